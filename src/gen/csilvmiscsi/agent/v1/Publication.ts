// Original file: proto/agent.proto


export interface Publication {
  'node_id'?: (string);
  'read_only'?: (boolean);
  'mode'?: (string);
  'chap'?: (boolean);
}

export interface Publication__Output {
  'node_id': (string);
  'read_only': (boolean);
  'mode': (string);
  'chap': (boolean);
}
