// Original file: proto/agent.proto


export interface UnpublishRequest {
  'vg'?: (string);
  'lv'?: (string);
  'node_id'?: (string);
}

export interface UnpublishRequest__Output {
  'vg': (string);
  'lv': (string);
  'node_id': (string);
}
