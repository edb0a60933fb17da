// Sign in, register, and verify the email address with the code sent there.

import { Code, ContactKind } from "@votemesh/sdk";
import { anonymous, api, currentUser, signedIn, updateUser } from "../api";
import { announce, field, h, replace } from "../dom";
import { errorBox, noticeBox } from "../errors";
import { t } from "../i18n";
import { navigate, type PageContext } from "../router";

/** A form whose submit runs `action`, disabling the button and showing any error above it. */
export function form(submitLabel: string, fields: HTMLElement[], action: () => Promise<void>): HTMLFormElement {
  const status = h("div", { class: "form-status" });
  const button = h("button", { type: "submit" }, submitLabel);
  const el = h("form", { novalidate: true }, status, fields, h("div", { class: "actions" }, button));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    replace(status);
    try {
      await action();
    } catch (error) {
      replace(status, errorBox(error, { [Code.Unauthenticated]: "auth.badCredentials" }));
      (status.querySelector("[role=alert]") as HTMLElement | null)?.focus?.();
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function input(attrs: Record<string, string | boolean>): HTMLInputElement {
  return h("input", { required: true, ...attrs });
}

export function signInPage({ main, query }: PageContext): void {
  const email = input({ type: "email", name: "email", autocomplete: "username" });
  const password = input({ type: "password", name: "password", autocomplete: "current-password" });
  const next = query.get("next") || "/";
  replace(
    main,
    h("h1", null, t("auth.signInTitle")),
    form(t("auth.signIn"), [field(t("auth.email"), email), field(t("auth.password"), password)], async () => {
      const r = await anonymous.users.login({ email: email.value.trim(), password: password.value });
      if (!r.user) throw new Error("no user in the sign-in response");
      signedIn(r.accessToken, r.refreshToken, r.expiresIn, r.user);
      navigate(r.user.emailVerified ? next : "/verify");
    }),
    h("p", null, t("auth.noAccount"), " ", h("a", { href: "#/register" }, t("auth.registerLink"))),
  );
}

export function registerPage({ main }: PageContext): void {
  const name = input({ type: "text", name: "name", autocomplete: "name", maxlength: "80" });
  const email = input({ type: "email", name: "email", autocomplete: "email" });
  const password = input({ type: "password", name: "new-password", autocomplete: "new-password", minlength: "12", maxlength: "128" });
  replace(
    main,
    h("h1", null, t("auth.registerTitle")),
    form(
      t("auth.register"),
      [
        field(t("auth.displayName"), name),
        field(t("auth.email"), email),
        field(t("auth.password"), password, t("auth.passwordHint")),
      ],
      async () => {
        await anonymous.users.register({ email: email.value.trim(), password: password.value, displayName: name.value.trim() });
        // Sign straight in so the code can be entered at once.
        const r = await anonymous.users.login({ email: email.value.trim(), password: password.value });
        if (!r.user) throw new Error("no user in the sign-in response");
        signedIn(r.accessToken, r.refreshToken, r.expiresIn, r.user);
        navigate("/verify");
      },
    ),
    h("p", null, t("auth.haveAccount"), " ", h("a", { href: "#/signin" }, t("auth.signInLink"))),
  );
}

export function verifyPage({ main }: PageContext): void {
  const user = currentUser();
  if (user?.emailVerified) {
    replace(
      main,
      h("h1", null, t("auth.verifyTitle")),
      noticeBox(t("auth.alreadyVerified"), "info"),
      h("p", null, h("a", { href: "#/" }, t("nav.elections"))),
    );
    return;
  }
  const code = input({ type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "12" });
  const resendStatus = h("div");
  const resend = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        replace(resendStatus);
        try {
          await (await api()).users.resendVerification({ kind: ContactKind.EMAIL });
          replace(resendStatus, noticeBox(t("auth.codeResent")));
        } catch (error) {
          replace(resendStatus, errorBox(error, { [Code.ResourceExhausted]: "auth.resendTooSoon" }));
        }
      },
    },
    t("auth.resend"),
  );
  replace(
    main,
    h("h1", null, t("auth.verifyTitle")),
    h("p", null, t("auth.verifyIntro", { email: user?.email ?? "" })),
    form(t("auth.verify"), [field(t("auth.code"), code)], async () => {
      const r = await (await api()).users.verifyContact({ kind: ContactKind.EMAIL, code: code.value.trim() });
      if (r.user) updateUser(r.user);
      replace(
        main,
        h("h1", null, t("auth.verifyTitle")),
        noticeBox(t("auth.verified")),
        h("p", null, h("a", { href: "#/" }, t("auth.toElections"))),
      );
      announce(t("auth.verified"));
      main.querySelector("h1")?.focus();
    }),
    resendStatus,
    h("p", null, t("auth.noCode"), " ", resend),
  );
}
