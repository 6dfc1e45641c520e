import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentClient as _csilvmiscsi_agent_v1_AgentClient, AgentDefinition as _csilvmiscsi_agent_v1_AgentDefinition } from './csilvmiscsi/agent/v1/Agent.js';
import type { AgentInfo as _csilvmiscsi_agent_v1_AgentInfo, AgentInfo__Output as _csilvmiscsi_agent_v1_AgentInfo__Output } from './csilvmiscsi/agent/v1/AgentInfo.js';
import type { ByName as _csilvmiscsi_agent_v1_ByName, ByName__Output as _csilvmiscsi_agent_v1_ByName__Output } from './csilvmiscsi/agent/v1/ByName.js';
import type { CapacityReply as _csilvmiscsi_agent_v1_CapacityReply, CapacityReply__Output as _csilvmiscsi_agent_v1_CapacityReply__Output } from './csilvmiscsi/agent/v1/CapacityReply.js';
import type { CapacityRequest as _csilvmiscsi_agent_v1_CapacityRequest, CapacityRequest__Output as _csilvmiscsi_agent_v1_CapacityRequest__Output } from './csilvmiscsi/agent/v1/CapacityRequest.js';
import type { ChapCredentials as _csilvmiscsi_agent_v1_ChapCredentials, ChapCredentials__Output as _csilvmiscsi_agent_v1_ChapCredentials__Output } from './csilvmiscsi/agent/v1/ChapCredentials.js';
import type { CreateSnapshotRequest as _csilvmiscsi_agent_v1_CreateSnapshotRequest, CreateSnapshotRequest__Output as _csilvmiscsi_agent_v1_CreateSnapshotRequest__Output } from './csilvmiscsi/agent/v1/CreateSnapshotRequest.js';
import type { CreateVolumeRequest as _csilvmiscsi_agent_v1_CreateVolumeRequest, CreateVolumeRequest__Output as _csilvmiscsi_agent_v1_CreateVolumeRequest__Output } from './csilvmiscsi/agent/v1/CreateVolumeRequest.js';
import type { Empty as _csilvmiscsi_agent_v1_Empty, Empty__Output as _csilvmiscsi_agent_v1_Empty__Output } from './csilvmiscsi/agent/v1/Empty.js';
import type { ExpandVolumeRequest as _csilvmiscsi_agent_v1_ExpandVolumeRequest, ExpandVolumeRequest__Output as _csilvmiscsi_agent_v1_ExpandVolumeRequest__Output } from './csilvmiscsi/agent/v1/ExpandVolumeRequest.js';
import type { GetInfoRequest as _csilvmiscsi_agent_v1_GetInfoRequest, GetInfoRequest__Output as _csilvmiscsi_agent_v1_GetInfoRequest__Output } from './csilvmiscsi/agent/v1/GetInfoRequest.js';
import type { ListRequest as _csilvmiscsi_agent_v1_ListRequest, ListRequest__Output as _csilvmiscsi_agent_v1_ListRequest__Output } from './csilvmiscsi/agent/v1/ListRequest.js';
import type { LvRef as _csilvmiscsi_agent_v1_LvRef, LvRef__Output as _csilvmiscsi_agent_v1_LvRef__Output } from './csilvmiscsi/agent/v1/LvRef.js';
import type { MaybeSnapshot as _csilvmiscsi_agent_v1_MaybeSnapshot, MaybeSnapshot__Output as _csilvmiscsi_agent_v1_MaybeSnapshot__Output } from './csilvmiscsi/agent/v1/MaybeSnapshot.js';
import type { MaybeVolume as _csilvmiscsi_agent_v1_MaybeVolume, MaybeVolume__Output as _csilvmiscsi_agent_v1_MaybeVolume__Output } from './csilvmiscsi/agent/v1/MaybeVolume.js';
import type { PoolStatus as _csilvmiscsi_agent_v1_PoolStatus, PoolStatus__Output as _csilvmiscsi_agent_v1_PoolStatus__Output } from './csilvmiscsi/agent/v1/PoolStatus.js';
import type { PoolStatusRequest as _csilvmiscsi_agent_v1_PoolStatusRequest, PoolStatusRequest__Output as _csilvmiscsi_agent_v1_PoolStatusRequest__Output } from './csilvmiscsi/agent/v1/PoolStatusRequest.js';
import type { Publication as _csilvmiscsi_agent_v1_Publication, Publication__Output as _csilvmiscsi_agent_v1_Publication__Output } from './csilvmiscsi/agent/v1/Publication.js';
import type { PublishInfo as _csilvmiscsi_agent_v1_PublishInfo, PublishInfo__Output as _csilvmiscsi_agent_v1_PublishInfo__Output } from './csilvmiscsi/agent/v1/PublishInfo.js';
import type { PublishRequest as _csilvmiscsi_agent_v1_PublishRequest, PublishRequest__Output as _csilvmiscsi_agent_v1_PublishRequest__Output } from './csilvmiscsi/agent/v1/PublishRequest.js';
import type { Snapshot as _csilvmiscsi_agent_v1_Snapshot, Snapshot__Output as _csilvmiscsi_agent_v1_Snapshot__Output } from './csilvmiscsi/agent/v1/Snapshot.js';
import type { Snapshots as _csilvmiscsi_agent_v1_Snapshots, Snapshots__Output as _csilvmiscsi_agent_v1_Snapshots__Output } from './csilvmiscsi/agent/v1/Snapshots.js';
import type { SourceRef as _csilvmiscsi_agent_v1_SourceRef, SourceRef__Output as _csilvmiscsi_agent_v1_SourceRef__Output } from './csilvmiscsi/agent/v1/SourceRef.js';
import type { ThinPoolStatus as _csilvmiscsi_agent_v1_ThinPoolStatus, ThinPoolStatus__Output as _csilvmiscsi_agent_v1_ThinPoolStatus__Output } from './csilvmiscsi/agent/v1/ThinPoolStatus.js';
import type { UnpublishRequest as _csilvmiscsi_agent_v1_UnpublishRequest, UnpublishRequest__Output as _csilvmiscsi_agent_v1_UnpublishRequest__Output } from './csilvmiscsi/agent/v1/UnpublishRequest.js';
import type { Volume as _csilvmiscsi_agent_v1_Volume, Volume__Output as _csilvmiscsi_agent_v1_Volume__Output } from './csilvmiscsi/agent/v1/Volume.js';
import type { VolumeParams as _csilvmiscsi_agent_v1_VolumeParams, VolumeParams__Output as _csilvmiscsi_agent_v1_VolumeParams__Output } from './csilvmiscsi/agent/v1/VolumeParams.js';
import type { Volumes as _csilvmiscsi_agent_v1_Volumes, Volumes__Output as _csilvmiscsi_agent_v1_Volumes__Output } from './csilvmiscsi/agent/v1/Volumes.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  csilvmiscsi: {
    agent: {
      v1: {
        Agent: SubtypeConstructor<typeof grpc.Client, _csilvmiscsi_agent_v1_AgentClient> & { service: _csilvmiscsi_agent_v1_AgentDefinition }
        AgentInfo: MessageTypeDefinition<_csilvmiscsi_agent_v1_AgentInfo, _csilvmiscsi_agent_v1_AgentInfo__Output>
        ByName: MessageTypeDefinition<_csilvmiscsi_agent_v1_ByName, _csilvmiscsi_agent_v1_ByName__Output>
        CapacityReply: MessageTypeDefinition<_csilvmiscsi_agent_v1_CapacityReply, _csilvmiscsi_agent_v1_CapacityReply__Output>
        CapacityRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_CapacityRequest, _csilvmiscsi_agent_v1_CapacityRequest__Output>
        ChapCredentials: MessageTypeDefinition<_csilvmiscsi_agent_v1_ChapCredentials, _csilvmiscsi_agent_v1_ChapCredentials__Output>
        CreateSnapshotRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_CreateSnapshotRequest, _csilvmiscsi_agent_v1_CreateSnapshotRequest__Output>
        CreateVolumeRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_CreateVolumeRequest, _csilvmiscsi_agent_v1_CreateVolumeRequest__Output>
        Empty: MessageTypeDefinition<_csilvmiscsi_agent_v1_Empty, _csilvmiscsi_agent_v1_Empty__Output>
        ExpandVolumeRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_ExpandVolumeRequest, _csilvmiscsi_agent_v1_ExpandVolumeRequest__Output>
        GetInfoRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_GetInfoRequest, _csilvmiscsi_agent_v1_GetInfoRequest__Output>
        ListRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_ListRequest, _csilvmiscsi_agent_v1_ListRequest__Output>
        LvRef: MessageTypeDefinition<_csilvmiscsi_agent_v1_LvRef, _csilvmiscsi_agent_v1_LvRef__Output>
        MaybeSnapshot: MessageTypeDefinition<_csilvmiscsi_agent_v1_MaybeSnapshot, _csilvmiscsi_agent_v1_MaybeSnapshot__Output>
        MaybeVolume: MessageTypeDefinition<_csilvmiscsi_agent_v1_MaybeVolume, _csilvmiscsi_agent_v1_MaybeVolume__Output>
        PoolStatus: MessageTypeDefinition<_csilvmiscsi_agent_v1_PoolStatus, _csilvmiscsi_agent_v1_PoolStatus__Output>
        PoolStatusRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_PoolStatusRequest, _csilvmiscsi_agent_v1_PoolStatusRequest__Output>
        Publication: MessageTypeDefinition<_csilvmiscsi_agent_v1_Publication, _csilvmiscsi_agent_v1_Publication__Output>
        PublishInfo: MessageTypeDefinition<_csilvmiscsi_agent_v1_PublishInfo, _csilvmiscsi_agent_v1_PublishInfo__Output>
        PublishRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_PublishRequest, _csilvmiscsi_agent_v1_PublishRequest__Output>
        Snapshot: MessageTypeDefinition<_csilvmiscsi_agent_v1_Snapshot, _csilvmiscsi_agent_v1_Snapshot__Output>
        Snapshots: MessageTypeDefinition<_csilvmiscsi_agent_v1_Snapshots, _csilvmiscsi_agent_v1_Snapshots__Output>
        SourceRef: MessageTypeDefinition<_csilvmiscsi_agent_v1_SourceRef, _csilvmiscsi_agent_v1_SourceRef__Output>
        ThinPoolStatus: MessageTypeDefinition<_csilvmiscsi_agent_v1_ThinPoolStatus, _csilvmiscsi_agent_v1_ThinPoolStatus__Output>
        UnpublishRequest: MessageTypeDefinition<_csilvmiscsi_agent_v1_UnpublishRequest, _csilvmiscsi_agent_v1_UnpublishRequest__Output>
        Volume: MessageTypeDefinition<_csilvmiscsi_agent_v1_Volume, _csilvmiscsi_agent_v1_Volume__Output>
        VolumeParams: MessageTypeDefinition<_csilvmiscsi_agent_v1_VolumeParams, _csilvmiscsi_agent_v1_VolumeParams__Output>
        Volumes: MessageTypeDefinition<_csilvmiscsi_agent_v1_Volumes, _csilvmiscsi_agent_v1_Volumes__Output>
      }
    }
  }
}

