/**
 * The agent API's client constructor, for every client (weftctl, CNI plugins, tests), made from
 * the same .proto the server loads (proto.ts), parsed by protobufjs directly instead of through
 * @grpc/proto-loader. The loader also builds a descriptor of every message for reflection,
 * which a client never uses; loading and running it was ~60 ms of each weftctl question (a
 * question's whole start-up is ~100 ms without it).
 *
 * Messages are converted as the loader converts them for the server (field names camelCased,
 * 64-bit integers as numbers, defaults filled in, enums as numbers), so both ends see the same
 * objects; agent-api.test.ts holds the two conversions to that.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { parse, type IConversionOptions, type Type } from 'protobufjs';
import { AGENT_PROTO } from './proto';

const SERVICE = 'weft.agent.v1.Agent';
/** proto.ts's loader options, as they bear on a decoded message. */
const DECODED: IConversionOptions = { longs: Number, defaults: true };

function serializer(type: Type): (value: object) => Buffer {
  return (value) => {
    // As the loader's: fromObject would read an array's indices as fields.
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    return Buffer.from(type.encode(type.fromObject(value)).finish());
  };
}

function deserializer(type: Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), DECODED);
}

let cached: grpc.ServiceClientConstructor | undefined;

export function agentClientConstructor(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  // keepCase false: field names camelCased, as the loader does with keepCase: false.
  const { root } = parse(fs.readFileSync(AGENT_PROTO, 'utf8'), { keepCase: false });
  const service = root.lookupService(SERVICE);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType;
    const response = method.resolvedResponseType;
    if (!request || !response) throw new Error(`${AGENT_PROTO}: ${SERVICE}.${method.name}: unresolved message types`);
    definition[method.name] = {
      path: `/${SERVICE}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
    };
  }
  cached = grpc.makeGenericClientConstructor(definition, 'Agent');
  return cached;
}
