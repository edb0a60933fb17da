// Turns a failed call into a translated message; the server's own (English) text is kept
// as a detail for the curious, never as the message itself.

import { Code, ConnectError } from "@votemesh/sdk";
import { h } from "./dom";
import { t, type Key } from "./i18n";

export interface Problem {
  code: Code | undefined;
  message: string;
  detail: string;
}

const BY_CODE: Partial<Record<Code, Key>> = {
  [Code.AlreadyExists]: "error.alreadyExists",
  [Code.FailedPrecondition]: "error.failedPrecondition",
  [Code.Unauthenticated]: "error.unauthenticated",
  [Code.PermissionDenied]: "error.permissionDenied",
  [Code.InvalidArgument]: "error.invalidArgument",
  [Code.ResourceExhausted]: "error.rateLimited",
  [Code.Unavailable]: "error.unavailable",
  [Code.NotFound]: "error.notFound",
  [Code.Aborted]: "error.stale",
  [Code.DeadlineExceeded]: "error.unavailable",
};

/** True for the refusal svc-voting gives an account whose email is not verified yet. */
export function isUnverified(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    error.code === Code.FailedPrecondition &&
    error.rawMessage.toLowerCase().startsWith("verify your email")
  );
}

/** A translated message for a failed call; `overrides` gives page-specific wording per code. */
export function problem(error: unknown, overrides: Partial<Record<Code, Key>> = {}): Problem {
  if (!(error instanceof ConnectError)) {
    return { code: undefined, message: t("error.generic"), detail: String(error) };
  }
  if (isUnverified(error)) {
    return { code: error.code, message: t("error.verifyFirst"), detail: error.rawMessage };
  }
  const key = overrides[error.code] ?? BY_CODE[error.code] ?? "error.generic";
  return { code: error.code, message: t(key), detail: error.rawMessage };
}

/** An alert box for a failed call. */
export function errorBox(error: unknown, overrides: Partial<Record<Code, Key>> = {}): HTMLElement {
  const p = problem(error, overrides);
  return h(
    "div",
    { class: "alert error", role: "alert", "data-code": p.code === undefined ? "" : Code[p.code] },
    h("p", { class: "alert-title" }, p.message),
    isUnverified(error) ? h("p", null, h("a", { href: "#/verify" }, t("auth.verifyLink"))) : null,
    p.detail ? h("p", { class: "detail" }, t("error.detail", { detail: p.detail })) : null,
  );
}

/** A success or information box. */
export function noticeBox(message: string, kind: "success" | "info" = "success", ...extra: Node[]): HTMLElement {
  return h("div", { class: `alert ${kind}`, role: "status" }, h("p", { class: "alert-title" }, message), extra);
}
