// Original file: proto/agent.proto


export interface VolumeParams {
  'lvm_type'?: (string);
  'volume_group'?: (string);
  'mirrors'?: (number);
  'stripes'?: (number);
  'stripe_size_kib'?: (number);
  'volume_clear'?: (string);
  'fs_type'?: (string);
  'local_attach'?: (boolean);
}

export interface VolumeParams__Output {
  'lvm_type': (string);
  'volume_group': (string);
  'mirrors': (number);
  'stripes': (number);
  'stripe_size_kib': (number);
  'volume_clear': (string);
  'fs_type': (string);
  'local_attach': (boolean);
}
