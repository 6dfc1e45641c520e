// Original file: proto/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentInfo as _csilvmiscsi_agent_v1_AgentInfo, AgentInfo__Output as _csilvmiscsi_agent_v1_AgentInfo__Output } from '../../../csilvmiscsi/agent/v1/AgentInfo.js';
import type { ByName as _csilvmiscsi_agent_v1_ByName, ByName__Output as _csilvmiscsi_agent_v1_ByName__Output } from '../../../csilvmiscsi/agent/v1/ByName.js';
import type { CapacityReply as _csilvmiscsi_agent_v1_CapacityReply, CapacityReply__Output as _csilvmiscsi_agent_v1_CapacityReply__Output } from '../../../csilvmiscsi/agent/v1/CapacityReply.js';
import type { CapacityRequest as _csilvmiscsi_agent_v1_CapacityRequest, CapacityRequest__Output as _csilvmiscsi_agent_v1_CapacityRequest__Output } from '../../../csilvmiscsi/agent/v1/CapacityRequest.js';
import type { CreateSnapshotRequest as _csilvmiscsi_agent_v1_CreateSnapshotRequest, CreateSnapshotRequest__Output as _csilvmiscsi_agent_v1_CreateSnapshotRequest__Output } from '../../../csilvmiscsi/agent/v1/CreateSnapshotRequest.js';
import type { CreateVolumeRequest as _csilvmiscsi_agent_v1_CreateVolumeRequest, CreateVolumeRequest__Output as _csilvmiscsi_agent_v1_CreateVolumeRequest__Output } from '../../../csilvmiscsi/agent/v1/CreateVolumeRequest.js';
import type { Empty as _csilvmiscsi_agent_v1_Empty, Empty__Output as _csilvmiscsi_agent_v1_Empty__Output } from '../../../csilvmiscsi/agent/v1/Empty.js';
import type { ExpandVolumeRequest as _csilvmiscsi_agent_v1_ExpandVolumeRequest, ExpandVolumeRequest__Output as _csilvmiscsi_agent_v1_ExpandVolumeRequest__Output } from '../../../csilvmiscsi/agent/v1/ExpandVolumeRequest.js';
import type { GetInfoRequest as _csilvmiscsi_agent_v1_GetInfoRequest, GetInfoRequest__Output as _csilvmiscsi_agent_v1_GetInfoRequest__Output } from '../../../csilvmiscsi/agent/v1/GetInfoRequest.js';
import type { ListRequest as _csilvmiscsi_agent_v1_ListRequest, ListRequest__Output as _csilvmiscsi_agent_v1_ListRequest__Output } from '../../../csilvmiscsi/agent/v1/ListRequest.js';
import type { LvRef as _csilvmiscsi_agent_v1_LvRef, LvRef__Output as _csilvmiscsi_agent_v1_LvRef__Output } from '../../../csilvmiscsi/agent/v1/LvRef.js';
import type { MaybeSnapshot as _csilvmiscsi_agent_v1_MaybeSnapshot, MaybeSnapshot__Output as _csilvmiscsi_agent_v1_MaybeSnapshot__Output } from '../../../csilvmiscsi/agent/v1/MaybeSnapshot.js';
import type { MaybeVolume as _csilvmiscsi_agent_v1_MaybeVolume, MaybeVolume__Output as _csilvmiscsi_agent_v1_MaybeVolume__Output } from '../../../csilvmiscsi/agent/v1/MaybeVolume.js';
import type { PoolStatus as _csilvmiscsi_agent_v1_PoolStatus, PoolStatus__Output as _csilvmiscsi_agent_v1_PoolStatus__Output } from '../../../csilvmiscsi/agent/v1/PoolStatus.js';
import type { PoolStatusRequest as _csilvmiscsi_agent_v1_PoolStatusRequest, PoolStatusRequest__Output as _csilvmiscsi_agent_v1_PoolStatusRequest__Output } from '../../../csilvmiscsi/agent/v1/PoolStatusRequest.js';
import type { PublishInfo as _csilvmiscsi_agent_v1_PublishInfo, PublishInfo__Output as _csilvmiscsi_agent_v1_PublishInfo__Output } from '../../../csilvmiscsi/agent/v1/PublishInfo.js';
import type { PublishRequest as _csilvmiscsi_agent_v1_PublishRequest, PublishRequest__Output as _csilvmiscsi_agent_v1_PublishRequest__Output } from '../../../csilvmiscsi/agent/v1/PublishRequest.js';
import type { Snapshot as _csilvmiscsi_agent_v1_Snapshot, Snapshot__Output as _csilvmiscsi_agent_v1_Snapshot__Output } from '../../../csilvmiscsi/agent/v1/Snapshot.js';
import type { Snapshots as _csilvmiscsi_agent_v1_Snapshots, Snapshots__Output as _csilvmiscsi_agent_v1_Snapshots__Output } from '../../../csilvmiscsi/agent/v1/Snapshots.js';
import type { UnpublishRequest as _csilvmiscsi_agent_v1_UnpublishRequest, UnpublishRequest__Output as _csilvmiscsi_agent_v1_UnpublishRequest__Output } from '../../../csilvmiscsi/agent/v1/UnpublishRequest.js';
import type { Volume as _csilvmiscsi_agent_v1_Volume, Volume__Output as _csilvmiscsi_agent_v1_Volume__Output } from '../../../csilvmiscsi/agent/v1/Volume.js';
import type { Volumes as _csilvmiscsi_agent_v1_Volumes, Volumes__Output as _csilvmiscsi_agent_v1_Volumes__Output } from '../../../csilvmiscsi/agent/v1/Volumes.js';

export interface AgentClient extends grpc.Client {
  Capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  Capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  Capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  Capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  capacity(argument: _csilvmiscsi_agent_v1_CapacityRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_CapacityReply__Output>): grpc.ClientUnaryCall;
  
  CreateSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  CreateSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  CreateSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  CreateSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  createSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  createSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  createSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  createSnapshot(argument: _csilvmiscsi_agent_v1_CreateSnapshotRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  
  CreateVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  CreateVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  CreateVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  CreateVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  createVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  createVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  createVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  createVolume(argument: _csilvmiscsi_agent_v1_CreateVolumeRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  
  DeleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  
  DeleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  DeleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  deleteVolume(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  
  ExpandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  ExpandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  ExpandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  ExpandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  expandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  expandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  expandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  expandVolume(argument: _csilvmiscsi_agent_v1_ExpandVolumeRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volume__Output>): grpc.ClientUnaryCall;
  
  FindSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  FindSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  FindSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  FindSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  findSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  findSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  findSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  findSnapshotByName(argument: _csilvmiscsi_agent_v1_ByName, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  
  FindVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  FindVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  FindVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  FindVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  findVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  findVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  findVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  findVolumeByName(argument: _csilvmiscsi_agent_v1_ByName, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  
  GetInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _csilvmiscsi_agent_v1_GetInfoRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  
  GetSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeSnapshot__Output>): grpc.ClientUnaryCall;
  
  GetVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  GetVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  GetVolume(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  GetVolume(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  getVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  getVolume(argument: _csilvmiscsi_agent_v1_LvRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  getVolume(argument: _csilvmiscsi_agent_v1_LvRef, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  getVolume(argument: _csilvmiscsi_agent_v1_LvRef, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_MaybeVolume__Output>): grpc.ClientUnaryCall;
  
  ListSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  ListSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  listSnapshots(argument: _csilvmiscsi_agent_v1_ListRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Snapshots__Output>): grpc.ClientUnaryCall;
  
  ListVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  ListVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  ListVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  ListVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  listVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  listVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  listVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  listVolumes(argument: _csilvmiscsi_agent_v1_ListRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Volumes__Output>): grpc.ClientUnaryCall;
  
  PoolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  PoolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  PoolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  PoolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  poolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  poolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  poolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  poolStatus(argument: _csilvmiscsi_agent_v1_PoolStatusRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PoolStatus__Output>): grpc.ClientUnaryCall;
  
  Publish(argument: _csilvmiscsi_agent_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  Publish(argument: _csilvmiscsi_agent_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  Publish(argument: _csilvmiscsi_agent_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  Publish(argument: _csilvmiscsi_agent_v1_PublishRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  publish(argument: _csilvmiscsi_agent_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  publish(argument: _csilvmiscsi_agent_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  publish(argument: _csilvmiscsi_agent_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  publish(argument: _csilvmiscsi_agent_v1_PublishRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_PublishInfo__Output>): grpc.ClientUnaryCall;
  
  Unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  Unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  Unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  Unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  unpublish(argument: _csilvmiscsi_agent_v1_UnpublishRequest, callback: grpc.requestCallback<_csilvmiscsi_agent_v1_Empty__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  Capacity: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_CapacityRequest__Output, _csilvmiscsi_agent_v1_CapacityReply>;
  
  CreateSnapshot: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_CreateSnapshotRequest__Output, _csilvmiscsi_agent_v1_Snapshot>;
  
  CreateVolume: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_CreateVolumeRequest__Output, _csilvmiscsi_agent_v1_Volume>;
  
  DeleteSnapshot: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_Empty>;
  
  DeleteVolume: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_Empty>;
  
  ExpandVolume: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_ExpandVolumeRequest__Output, _csilvmiscsi_agent_v1_Volume>;
  
  FindSnapshotByName: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_ByName__Output, _csilvmiscsi_agent_v1_MaybeSnapshot>;
  
  FindVolumeByName: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_ByName__Output, _csilvmiscsi_agent_v1_MaybeVolume>;
  
  GetInfo: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_GetInfoRequest__Output, _csilvmiscsi_agent_v1_AgentInfo>;
  
  GetSnapshot: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_MaybeSnapshot>;
  
  GetVolume: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_MaybeVolume>;
  
  ListSnapshots: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_ListRequest__Output, _csilvmiscsi_agent_v1_Snapshots>;
  
  ListVolumes: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_ListRequest__Output, _csilvmiscsi_agent_v1_Volumes>;
  
  PoolStatus: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_PoolStatusRequest__Output, _csilvmiscsi_agent_v1_PoolStatus>;
  
  Publish: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_PublishRequest__Output, _csilvmiscsi_agent_v1_PublishInfo>;
  
  Unpublish: grpc.handleUnaryCall<_csilvmiscsi_agent_v1_UnpublishRequest__Output, _csilvmiscsi_agent_v1_Empty>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  Capacity: MethodDefinition<_csilvmiscsi_agent_v1_CapacityRequest, _csilvmiscsi_agent_v1_CapacityReply, _csilvmiscsi_agent_v1_CapacityRequest__Output, _csilvmiscsi_agent_v1_CapacityReply__Output>
  CreateSnapshot: MethodDefinition<_csilvmiscsi_agent_v1_CreateSnapshotRequest, _csilvmiscsi_agent_v1_Snapshot, _csilvmiscsi_agent_v1_CreateSnapshotRequest__Output, _csilvmiscsi_agent_v1_Snapshot__Output>
  CreateVolume: MethodDefinition<_csilvmiscsi_agent_v1_CreateVolumeRequest, _csilvmiscsi_agent_v1_Volume, _csilvmiscsi_agent_v1_CreateVolumeRequest__Output, _csilvmiscsi_agent_v1_Volume__Output>
  DeleteSnapshot: MethodDefinition<_csilvmiscsi_agent_v1_LvRef, _csilvmiscsi_agent_v1_Empty, _csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_Empty__Output>
  DeleteVolume: MethodDefinition<_csilvmiscsi_agent_v1_LvRef, _csilvmiscsi_agent_v1_Empty, _csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_Empty__Output>
  ExpandVolume: MethodDefinition<_csilvmiscsi_agent_v1_ExpandVolumeRequest, _csilvmiscsi_agent_v1_Volume, _csilvmiscsi_agent_v1_ExpandVolumeRequest__Output, _csilvmiscsi_agent_v1_Volume__Output>
  FindSnapshotByName: MethodDefinition<_csilvmiscsi_agent_v1_ByName, _csilvmiscsi_agent_v1_MaybeSnapshot, _csilvmiscsi_agent_v1_ByName__Output, _csilvmiscsi_agent_v1_MaybeSnapshot__Output>
  FindVolumeByName: MethodDefinition<_csilvmiscsi_agent_v1_ByName, _csilvmiscsi_agent_v1_MaybeVolume, _csilvmiscsi_agent_v1_ByName__Output, _csilvmiscsi_agent_v1_MaybeVolume__Output>
  GetInfo: MethodDefinition<_csilvmiscsi_agent_v1_GetInfoRequest, _csilvmiscsi_agent_v1_AgentInfo, _csilvmiscsi_agent_v1_GetInfoRequest__Output, _csilvmiscsi_agent_v1_AgentInfo__Output>
  GetSnapshot: MethodDefinition<_csilvmiscsi_agent_v1_LvRef, _csilvmiscsi_agent_v1_MaybeSnapshot, _csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_MaybeSnapshot__Output>
  GetVolume: MethodDefinition<_csilvmiscsi_agent_v1_LvRef, _csilvmiscsi_agent_v1_MaybeVolume, _csilvmiscsi_agent_v1_LvRef__Output, _csilvmiscsi_agent_v1_MaybeVolume__Output>
  ListSnapshots: MethodDefinition<_csilvmiscsi_agent_v1_ListRequest, _csilvmiscsi_agent_v1_Snapshots, _csilvmiscsi_agent_v1_ListRequest__Output, _csilvmiscsi_agent_v1_Snapshots__Output>
  ListVolumes: MethodDefinition<_csilvmiscsi_agent_v1_ListRequest, _csilvmiscsi_agent_v1_Volumes, _csilvmiscsi_agent_v1_ListRequest__Output, _csilvmiscsi_agent_v1_Volumes__Output>
  PoolStatus: MethodDefinition<_csilvmiscsi_agent_v1_PoolStatusRequest, _csilvmiscsi_agent_v1_PoolStatus, _csilvmiscsi_agent_v1_PoolStatusRequest__Output, _csilvmiscsi_agent_v1_PoolStatus__Output>
  Publish: MethodDefinition<_csilvmiscsi_agent_v1_PublishRequest, _csilvmiscsi_agent_v1_PublishInfo, _csilvmiscsi_agent_v1_PublishRequest__Output, _csilvmiscsi_agent_v1_PublishInfo__Output>
  Unpublish: MethodDefinition<_csilvmiscsi_agent_v1_UnpublishRequest, _csilvmiscsi_agent_v1_Empty, _csilvmiscsi_agent_v1_UnpublishRequest__Output, _csilvmiscsi_agent_v1_Empty__Output>
}
