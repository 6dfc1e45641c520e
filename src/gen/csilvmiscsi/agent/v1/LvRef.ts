// Original file: proto/agent.proto


export interface LvRef {
  'vg'?: (string);
  'lv'?: (string);
}

export interface LvRef__Output {
  'vg': (string);
  'lv': (string);
}
