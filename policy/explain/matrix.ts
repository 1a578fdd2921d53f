/**
 * `policy matrix`: for every ordered pair of a set of pods and every port, whether a new
 * connection is allowed. Ports: the ones asked for, else every container port the pods
 * declare (a policy may decide per port; a port no pod declares is rarely a question).
 */
import type { ModelPod, PolicyModel } from './model';
import { NotFoundError, portSpecText, QueryError, uniquePortSpecs, type PortSpec } from './query';

export interface MatrixRequest {
  /** Namespaces whose pods are compared (all when empty). */
  namespaces?: readonly string[];
  ports?: readonly PortSpec[];
}

export interface MatrixPair {
  from: string;
  to: string;
  /** Port texts ("80/TCP") allowed, and denied, in the order of MatrixResult.ports. */
  allowed: string[];
  denied: string[];
}

export interface MatrixResult {
  pods: string[];
  ports: string[];
  /** Every ordered pair, a pod with itself included, sources in the order of `pods`. */
  pairs: MatrixPair[];
}

const PROTOCOLS: Readonly<Record<string, PortSpec['protocol']>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** The container ports pods declare, as port specs. */
export function declaredPorts(pods: readonly ModelPod[]): PortSpec[] {
  const out: PortSpec[] = [];
  for (const pod of pods) {
    for (const p of pod.containerPorts) {
      const protocol = PROTOCOLS[p.protocol ?? 'TCP'];
      if (protocol && Number.isInteger(p.containerPort) && p.containerPort >= 1 && p.containerPort <= 65535) out.push({ protocol, port: p.containerPort });
    }
  }
  return uniquePortSpecs(out);
}

/** The pods of the namespaces, or an error naming namespaces without any. */
export function podsOfNamespaces(model: PolicyModel, namespaces: readonly string[]): ModelPod[] {
  for (const ns of namespaces) {
    if (!model.policyPods([ns]).length) throw new NotFoundError(`no pod NetworkPolicy applies to in namespace ${ns} (${model.source})`);
  }
  const pods = model.policyPods(namespaces);
  if (pods.length === 0) throw new NotFoundError(`no pod NetworkPolicy applies to in ${model.source}`);
  return pods;
}

export function policyMatrix(model: PolicyModel, request: MatrixRequest = {}): MatrixResult {
  const pods = podsOfNamespaces(model, request.namespaces ?? []);
  const ports = request.ports && request.ports.length > 0 ? uniquePortSpecs(request.ports) : declaredPorts(pods);
  if (ports.length === 0) throw new QueryError('the pods declare no container ports: which ports? (--port N[/PROTO])');
  const pairs: MatrixPair[] = [];
  for (const src of pods) {
    for (const dst of pods) {
      const pair: MatrixPair = { from: src.id, to: dst.id, allowed: [], denied: [] };
      for (const p of ports) {
        const verdict = model.evaluator.explain({ src: src.address, dst: dst.address, protocol: p.protocol, port: p.port });
        (verdict.allowed ? pair.allowed : pair.denied).push(portSpecText(p));
      }
      pairs.push(pair);
    }
  }
  return { pods: pods.map((p) => p.id), ports: ports.map(portSpecText), pairs };
}
