// Original file: proto/agent.proto

import type { Publication as _csilvmiscsi_agent_v1_Publication, Publication__Output as _csilvmiscsi_agent_v1_Publication__Output } from '../../../csilvmiscsi/agent/v1/Publication.js';
import type { ChapCredentials as _csilvmiscsi_agent_v1_ChapCredentials, ChapCredentials__Output as _csilvmiscsi_agent_v1_ChapCredentials__Output } from '../../../csilvmiscsi/agent/v1/ChapCredentials.js';

export interface PublishRequest {
  'vg'?: (string);
  'lv'?: (string);
  'publication'?: (_csilvmiscsi_agent_v1_Publication | null);
  'initiator_iqn'?: (string);
  'node_name'?: (string);
  'chap'?: (_csilvmiscsi_agent_v1_ChapCredentials | null);
}

export interface PublishRequest__Output {
  'vg': (string);
  'lv': (string);
  'publication': (_csilvmiscsi_agent_v1_Publication__Output | null);
  'initiator_iqn': (string);
  'node_name': (string);
  'chap': (_csilvmiscsi_agent_v1_ChapCredentials__Output | null);
}
