// Admin start page: every election, any status, with a way to create one.

import { h, replace } from "../dom";
import { date, listAllElections } from "../elections";
import { errorBox } from "../errors";
import { formatDate, t } from "../i18n";
import { statusLabel } from "../labels";
import type { PageContext } from "../router";

export async function adminListPage({ main, signal }: PageContext): Promise<void> {
  const heading = h("h1", null, t("admin.title"));
  const create = h("p", null, h("a", { class: "button", href: "#/admin/new" }, t("admin.new")));
  let elections;
  try {
    elections = await listAllElections(signal);
  } catch (error) {
    replace(main, heading, create, errorBox(error));
    return;
  }
  if (signal.aborted) return;
  replace(
    main,
    heading,
    create,
    elections.length === 0
      ? h("p", null, t("admin.none"))
      : h(
          "ul",
          { class: "cards" },
          elections.map((e) =>
            h(
              "li",
              { class: "card", "data-election": e.electionId },
              h("h2", { class: "h3" }, h("a", { href: `#/admin/elections/${e.electionId}` }, e.title)),
              h("p", { class: "meta" }, h("span", { class: `badge status-${e.status}` }, statusLabel(e.status)), " ", t("admin.questions", { n: e.questions.length })),
              h("p", { class: "dates" }, t("home.opensCloses", { opens: formatDate(date(e.opensAt)), closes: formatDate(date(e.closesAt)) })),
            ),
          ),
        ),
  );
}
