// Original file: proto/agent.proto


export interface ListRequest {
  'after'?: (string);
  'limit'?: (number);
  'ready_only'?: (boolean);
}

export interface ListRequest__Output {
  'after': (string);
  'limit': (number);
  'ready_only': (boolean);
}
