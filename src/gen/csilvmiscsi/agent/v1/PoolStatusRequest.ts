// Original file: proto/agent.proto


export interface PoolStatusRequest {
  'vg'?: (string);
}

export interface PoolStatusRequest__Output {
  'vg': (string);
}
