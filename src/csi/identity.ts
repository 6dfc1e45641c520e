/**
 * CSI Identity service: plugin name and version, the capabilities that are
 * really implemented, and Probe.
 */
import type { IdentityHandlers } from '../gen/csi/v1/Identity.js';
import type { PluginCapability } from '../gen/csi/v1/PluginCapability.js';
import { FailedPrecondition } from '../errors.js';
import type { Readiness } from '../readiness.js';
import { unary, type AdapterDeps } from '../server/adapter.js';

export interface IdentityOptions {
  driverName: string;
  version: string;
  /** The Controller service is registered with working handlers. */
  controllerService: boolean;
  /** ControllerExpandVolume works for volumes in use. */
  onlineExpansion: boolean;
  readiness: Readiness;
}

function pluginCapabilities(o: Pick<IdentityOptions, 'controllerService' | 'onlineExpansion'>): PluginCapability[] {
  const caps: PluginCapability[] = [];
  if (o.controllerService) caps.push({ service: { type: 'CONTROLLER_SERVICE' } });
  // NodeGetInfo reports the driver's topology segment (topology.ts), which the CSI spec ties to this capability
  caps.push({ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } });
  if (o.onlineExpansion) caps.push({ volume_expansion: { type: 'ONLINE' } });
  return caps;
}

export function identityHandlers(o: IdentityOptions, deps: AdapterDeps): IdentityHandlers {
  return {
    GetPluginInfo: unary(
      'Identity/GetPluginInfo',
      { quiet: true, handle: async () => ({ name: o.driverName, vendor_version: o.version, manifest: {} }) },
      deps,
    ),
    GetPluginCapabilities: unary(
      'Identity/GetPluginCapabilities',
      { quiet: true, handle: async () => ({ capabilities: pluginCapabilities(o) }) },
      deps,
    ),
    Probe: unary(
      'Identity/Probe',
      {
        quiet: true,
        handle: async () => {
          const s = o.readiness.get();
          // a failed start being retried says why (CSI's "Plugin not healthy"); the first attempt is only not ready yet
          if (s.state === 'initializing' && s.reason)
            throw new FailedPrecondition(`start failed, retrying: ${s.reason}`);
          if (s.state === 'initializing') return { ready: { value: false } };
          if (s.state === 'failed') throw new FailedPrecondition(s.reason);
          await o.readiness.runChecks();
          return { ready: { value: true } };
        },
      },
      deps,
    ),
  };
}
