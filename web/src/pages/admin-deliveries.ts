// The delivery log: every email and SMS (codes, confirmations, invitations, reminders), masked,
// filtered by status and election, with a retry of dead deliveries.

import { DeliveryStatus, type Delivery } from "@votemesh/sdk";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { api } from "../api";
import { field, h, replace, scroller } from "../dom";
import { errorBox, noticeBox } from "../errors";
import { formatDate, t } from "../i18n";
import { DELIVERY_STATUS_VALUES, deliveryStatusLabel, kindLabel } from "../labels";
import type { PageContext } from "../router";

export async function deliveriesPage({ main, query, signal }: PageContext): Promise<void> {
  const status = h(
    "select",
    { id: "delivery-status" },
    h("option", { value: "0" }, t("delivery.any")),
    DELIVERY_STATUS_VALUES.map((s) => h("option", { value: String(s), selected: String(s) === query.get("status") }, deliveryStatusLabel(s))),
  );
  const election = h("input", { type: "text", id: "delivery-election", value: query.get("election") ?? "", spellcheck: "false" });
  const tableBox = h("div");
  const more = h("p");
  const retryOut = h("div", { "aria-live": "polite" });
  let rows: Delivery[] = [];

  const load = async (pageToken = "") => {
    try {
      const r = await (await api()).notify.listDeliveries(
        { pageSize: 50, pageToken, status: Number(status.value) as DeliveryStatus, electionId: election.value.trim() },
        { signal },
      );
      rows = pageToken ? [...rows, ...r.deliveries] : r.deliveries;
      replace(tableBox, table(rows));
      replace(more, r.nextPageToken ? h("button", { type: "button", class: "secondary", onclick: () => load(r.nextPageToken) }, t("delivery.more")) : null);
    } catch (error) {
      replace(tableBox, errorBox(error));
      replace(more);
    }
  };

  const filters = h("form", { class: "inline-form", novalidate: true }, field(t("delivery.status"), status), field(t("delivery.election"), election), h("button", { type: "submit" }, t("delivery.filter")));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });
  const retry = h("button", { type: "button", class: "secondary" }, t("delivery.retryDead"));
  retry.addEventListener("click", async () => {
    try {
      const r = await (await api()).notify.retryDead({ electionId: election.value.trim() });
      replace(retryOut, noticeBox(t("delivery.retried", { n: r.retried })));
      await load();
    } catch (error) {
      replace(retryOut, errorBox(error));
    }
  });
  replace(main, h("h1", null, t("delivery.title")), filters, h("p", null, retry), retryOut, tableBox, more);
  await load();
}

function table(rows: Delivery[]): HTMLElement {
  if (rows.length === 0) return h("p", null, t("delivery.none"));
  const when = (d: Delivery) => formatDate(d.createdAt ? timestampDate(d.createdAt) : d.updatedAt ? timestampDate(d.updatedAt) : undefined);
  return scroller(
    t("delivery.title"),
    h(
      "table",
      { class: "deliveries" },
      h("caption", { class: "sr-only" }, t("delivery.title")),
      h(
        "thead",
        null,
        h("tr", null, [t("delivery.when"), t("delivery.kind"), t("delivery.recipient"), t("delivery.status"), t("delivery.attempts"), t("delivery.lastError")].map((c) => h("th", { scope: "col" }, c))),
      ),
      h(
        "tbody",
        null,
        rows.map((d) =>
          h(
            "tr",
            { "data-kind": d.kind, "data-status": d.status },
            h("td", null, when(d)),
            h("td", null, kindLabel(d.kind)),
            h("td", null, d.recipient),
            h("td", null, h("span", { class: `badge delivery-${d.status}` }, deliveryStatusLabel(d.status))),
            h("td", null, String(d.attempts)),
            h("td", null, d.lastError || "—"),
          ),
        ),
      ),
    ),
  );
}
