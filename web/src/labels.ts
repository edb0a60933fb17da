// Translated names for the API's enums.

import { BallotMethod, DeliveryKind, DeliveryStatus, ElectionStatus } from "@votemesh/sdk";
import { t, type Key } from "./i18n";

const METHODS: Record<number, Key> = {
  [BallotMethod.PLURALITY]: "method.plurality",
  [BallotMethod.APPROVAL]: "method.approval",
  [BallotMethod.RANKED]: "method.ranked",
  [BallotMethod.STV]: "method.stv",
  [BallotMethod.SCHULZE]: "method.schulze",
  [BallotMethod.BORDA]: "method.borda",
  [BallotMethod.SCORE]: "method.score",
};

export const METHOD_VALUES = [
  BallotMethod.PLURALITY,
  BallotMethod.APPROVAL,
  BallotMethod.RANKED,
  BallotMethod.STV,
  BallotMethod.SCHULZE,
  BallotMethod.BORDA,
  BallotMethod.SCORE,
];

export function methodLabel(method: BallotMethod): string {
  return t(METHODS[method] ?? "method.unknown");
}

/** Whether a method's ballot is a ranking. */
export function isRanking(method: BallotMethod): boolean {
  return [BallotMethod.RANKED, BallotMethod.STV, BallotMethod.SCHULZE, BallotMethod.BORDA].includes(method);
}

const STATUSES: Record<number, Key> = {
  [ElectionStatus.DRAFT]: "status.draft",
  [ElectionStatus.OPEN]: "status.open",
  [ElectionStatus.CLOSED]: "status.closed",
  [ElectionStatus.ARCHIVED]: "status.archived",
};

export function statusLabel(status: ElectionStatus): string {
  return t(STATUSES[status] ?? "status.unknown");
}

const KINDS: Record<number, Key> = {
  [DeliveryKind.VERIFICATION]: "delivery.kind.verification",
  [DeliveryKind.CONFIRMATION]: "delivery.kind.confirmation",
  [DeliveryKind.INVITATION]: "delivery.kind.invitation",
  [DeliveryKind.REMINDER]: "delivery.kind.reminder",
};

export function kindLabel(kind: DeliveryKind): string {
  return t(KINDS[kind] ?? "status.unknown");
}

const DELIVERY_STATUSES: Record<number, Key> = {
  [DeliveryStatus.PENDING]: "delivery.status.pending",
  [DeliveryStatus.SENT]: "delivery.status.sent",
  [DeliveryStatus.FAILED]: "delivery.status.failed",
  [DeliveryStatus.SKIPPED]: "delivery.status.skipped",
  [DeliveryStatus.DEAD]: "delivery.status.dead",
};

export const DELIVERY_STATUS_VALUES = [
  DeliveryStatus.PENDING,
  DeliveryStatus.SENT,
  DeliveryStatus.FAILED,
  DeliveryStatus.SKIPPED,
  DeliveryStatus.DEAD,
];

export function deliveryStatusLabel(status: DeliveryStatus): string {
  return t(DELIVERY_STATUSES[status] ?? "status.unknown");
}
