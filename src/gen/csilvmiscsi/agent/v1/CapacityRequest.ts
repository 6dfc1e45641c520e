// Original file: proto/agent.proto


export interface CapacityRequest {
  'vg'?: (string);
  'lvm_type'?: (string);
  'mirrors'?: (number);
  'stripes'?: (number);
}

export interface CapacityRequest__Output {
  'vg': (string);
  'lvm_type': (string);
  'mirrors': (number);
  'stripes': (number);
}
