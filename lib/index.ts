/**
 * Coffer's CDK constructs (`coffer/cdk`): the whole stack, the control plane to embed in a stack of one's own, the
 * extension layer for functions that read secrets, and the function construct every Coffer Lambda is built from.
 *
 * @example
 * import { CofferControlPlane } from 'coffer/cdk';
 * new CofferControlPlane(stack, 'Coffer', { name: 'prod' });
 */
export { AuditOutboxRelay, type AuditOutboxRelayProps } from './audit-outbox-relay.ts';
export { CofferApi, type CofferApiProps, type CofferMtlsDomainProps } from './coffer-api.ts';
export { CofferAuditTrail, type CofferAuditTrailProps } from './coffer-audit-trail.ts';
export { type BrokerNetwork, CofferBroker, type CofferBrokerProps } from './coffer-broker.ts';
export { CofferCloudHsmKey, type CofferCloudHsmKeyProps } from './coffer-cloudhsm-key.ts';
export { CofferConsole, type CofferConsoleProps } from './coffer-console.ts';
export { CofferControlPlane, type CofferControlPlaneProps } from './coffer-control-plane.ts';
export { CofferExpirySweeper, type CofferExpirySweeperProps } from './coffer-expiry-sweeper.ts';
export { COFFER_LAMBDA_RUNTIME, CofferFunction, type CofferFunctionProps } from './coffer-function.ts';
export { CofferLeaseSweeper, type CofferLeaseSweeperProps } from './coffer-lease-sweeper.ts';
export { CofferMonitoring, type CofferMonitoringProps } from './coffer-monitoring.ts';
export { CofferRotation, type CofferRotationProps } from './coffer-rotation.ts';
export {
  type CofferContextSettings,
  CofferStack,
  type CofferStackProps,
  cofferSettingsFromContext,
} from './coffer-stack.ts';
export { CofferExtensionLayer, type CofferExtensionLayerProps } from './extension-layer.ts';
