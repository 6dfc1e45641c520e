// Original file: proto/agent.proto


export interface PublishInfo {
  'kind'?: (string);
  'target_iqn'?: (string);
  'portals'?: (string)[];
  'lun'?: (number);
  'device_path'?: (string);
}

export interface PublishInfo__Output {
  'kind': (string);
  'target_iqn': (string);
  'portals': (string)[];
  'lun': (number);
  'device_path': (string);
}
