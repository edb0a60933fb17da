// "Verify my receipt": anyone can check that a ballot with a receipt is recorded, and counted.

import { anonymous } from "../api";
import { field, h, replace } from "../dom";
import { errorBox, noticeBox } from "../errors";
import { t } from "../i18n";
import type { PageContext } from "../router";
import { form } from "./auth";

export function receiptPage({ main, query }: PageContext): void {
  const code = h("input", { type: "text", name: "receipt", required: true, autocomplete: "off", spellcheck: "false", value: query.get("code") ?? "" });
  const result = h("div", { class: "receipt-result" });
  const check = async () => {
    replace(result);
    try {
      const r = await anonymous.voting.verifyReceipt({ receiptCode: code.value.trim() });
      replace(
        result,
        r.recorded
          ? noticeBox(r.counted ? t("receipt.recordedCounted") : t("receipt.recordedSealed"), "success")
          : h("div", { class: "alert error", role: "alert" }, h("p", { class: "alert-title" }, t("receipt.notFound"))),
      );
    } catch (error) {
      replace(result, errorBox(error));
    }
  };
  replace(
    main,
    h("h1", null, t("receipt.verifyTitle")),
    h("p", null, t("receipt.verifyIntro")),
    form(t("receipt.check"), [field(t("receipt.code"), code)], check),
    result,
  );
  if (code.value) void check();
}
