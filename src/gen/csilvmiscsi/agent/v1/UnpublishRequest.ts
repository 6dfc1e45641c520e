// Original file: proto/agent.proto


export interface UnpublishRequest {
  'vg'?: (string);
  'lv'?: (string);
  'node_id'?: (string);
  'initiator_iqn'?: (string);
}

export interface UnpublishRequest__Output {
  'vg': (string);
  'lv': (string);
  'node_id': (string);
  'initiator_iqn': (string);
}
