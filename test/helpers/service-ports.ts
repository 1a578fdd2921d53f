/** ServicePortState written directly (no Service objects), for tests of what consumes it. */
import type { ServiceEndpoint, ServicePortState } from '../../agent/dataplane/service-state';

/**
 * A port of Service x/NAME: TCP, IPv4, cluster IP 10.96.0.10:80 and no other frontend unless
 * `fields` says otherwise; `endpoints` serve both cluster and external traffic (override
 * clusterEndpoints / externalEndpoints for traffic policies).
 */
export function portState(name: string, fields: Partial<ServicePortState> & { endpoints?: ServiceEndpoint[] } = {}): ServicePortState {
  const { endpoints = [], ...rest } = fields;
  const protocol = fields.protocol ?? 'tcp';
  const family = fields.family ?? 4;
  return {
    key: `x/${name}::${protocol}:v${family}`,
    service: `x/${name}`,
    portName: '',
    protocol,
    family,
    clusterIp: '10.96.0.10',
    port: 80,
    externalIps: [],
    loadBalancerIps: [],
    loadBalancerSourceRanges: [],
    clusterEndpoints: endpoints,
    externalEndpoints: endpoints,
    anyEndpoints: endpoints.length > 0,
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    ...rest,
  };
}
