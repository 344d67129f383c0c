/**
 * Pruning passes: unstructured (prune-magnitude, prune-nm: zeros, smaller compressed files) and
 * structured (prune-channels: channels and heads physically removed, faster in onnxruntime), plus the
 * channel dependency analysis they rest on, for sensitivity analysis and the pruning preview.
 */
export { pruneMagnitudePass, type PruneMagnitudeOptions } from './magnitude';
export { pruneNmPass, type PruneNmOptions } from './nm';
export { pruneChannelsPass, unitsToRemove, type PruneChannelsOptions } from './channels';
export { channelGroups, type ChannelAnalysis, type ChannelGroup, type ChannelGroupOptions, type GroupMember } from './groups';
export { pruneChannelGroups, type PruneOutcome } from './apply';
export { groupScores, lowestUnits, type GroupScores, type ScoreMethod } from './score';
export type { MemberRole } from './analyzer';
