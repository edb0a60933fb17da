// A ranking that works by keyboard (buttons to add, move and remove, focus kept on the moved
// candidate) and by mouse (drag a candidate to its place). Every change is announced.

import type { Candidate } from "@votemesh/sdk";
import { announce, h, replace, type Child } from "../dom";
import { t } from "../i18n";

export interface Ranking {
  element: HTMLElement;
  /** Candidate ids, first preference first. */
  order(): string[];
}

export function ranking(candidates: Candidate[], maxChoices: number, hintId: string): Ranking {
  const byId = new Map(candidates.map((c) => [c.candidateId, c]));
  let ranked: string[] = [];
  const limit = maxChoices > 0 ? Math.min(maxChoices, candidates.length) : candidates.length;
  const rankedList = h("ol", { class: "ranked", "aria-describedby": hintId });
  const unrankedList = h("ul", { class: "unranked" });
  const element = h(
    "div",
    { class: "ranking" },
    h("div", { class: "ranking-col" }, h("h4", null, t("ballot.yourRanking")), rankedList),
    h("div", { class: "ranking-col" }, h("h4", null, t("ballot.notRanked")), unrankedList),
  );
  let dragged: string | null = null;

  const name = (id: string) => byId.get(id)?.name ?? id;

  function label(c: Candidate): Child[] {
    return [h("span", { class: "name" }, c.name), c.party ? h("span", { class: "party" }, ` (${c.party})`) : null];
  }

  /** Redraws both lists and puts focus back on the button the user just used (or its neighbour). */
  function draw(focus?: { id: string; action: string }, index = 0): void {
    const unranked = candidates.map((c) => c.candidateId).filter((id) => !ranked.includes(id));
    const full = ranked.length >= limit;
    replace(
      rankedList,
      ranked.length === 0 ? h("li", { class: "empty" }, t("ballot.rankingEmpty")) : null,
      ranked.map((id, i) =>
        h(
          "li",
          { class: "item", draggable: "true", "data-id": id },
          h("span", { class: "rank", "aria-hidden": "true" }, `${i + 1}`),
          h("span", { class: "sr-only" }, t("ballot.position", { n: i + 1 })),
          label(byId.get(id)!),
          h(
            "span",
            { class: "item-actions" },
            button("up", id, t("ballot.moveUp"), i === 0, () => move(id, -1)),
            button("down", id, t("ballot.moveDown"), i === ranked.length - 1, () => move(id, 1)),
            button("remove", id, t("ballot.remove"), false, () => remove(id)),
          ),
        ),
      ),
    );
    replace(
      unrankedList,
      unranked.length === 0 ? h("li", { class: "empty" }, t("ballot.allRanked")) : null,
      unranked.map((id) =>
        h(
          "li",
          { class: "item", draggable: full ? null : "true", "data-id": id },
          label(byId.get(id)!),
          h("span", { class: "item-actions" }, button("add", id, t("ballot.add"), full, () => add(id))),
        ),
      ),
    );
    if (focus) restoreFocus(focus, index);
  }

  function button(action: string, id: string, text: string, disabled: boolean, onclick: () => void): HTMLButtonElement {
    // The candidate's name is part of the accessible name ("Move up Alice"), read after the visible text.
    return h(
      "button",
      { type: "button", class: `small ${action}`, "data-action": action, "data-for": id, disabled, onclick },
      text,
      h("span", { class: "sr-only" }, ` ${name(id)}`),
    );
  }

  /**
   * After a move, focus stays on the same control of the moved candidate. After an add it
   * stays in the unranked list, on the next candidate's Add, so Enter, Enter, Enter ranks them
   * in turn; after a remove it stays in the ranking.
   */
  function restoreFocus({ id, action }: { id: string; action: string }, index: number): void {
    const enabled = (selector: string) => [...element.querySelectorAll<HTMLButtonElement>(selector)].filter((b) => !b.disabled);
    let targets: HTMLButtonElement[] = [];
    if (action === "up" || action === "down") {
      const order = action === "up" ? ["up", "down", "remove"] : ["down", "up", "remove"];
      targets = order.flatMap((a) => enabled(`button[data-for="${id}"][data-action="${a}"]`));
    } else if (action === "add") {
      const adds = enabled(".unranked button.add");
      targets = [adds[Math.min(index, adds.length - 1)], ...enabled(`button[data-for="${id}"]`)].filter(Boolean);
    } else {
      const removes = enabled(".ranked button.remove");
      targets = [removes[Math.min(index, removes.length - 1)], ...enabled(".unranked button.add")].filter(Boolean);
    }
    (targets[0] ?? element.querySelector<HTMLButtonElement>("button:not([disabled])"))?.focus();
  }

  function add(id: string, at = ranked.length): void {
    if (ranked.length >= limit || ranked.includes(id)) return;
    const index = candidates.map((c) => c.candidateId).filter((c) => !ranked.includes(c)).indexOf(id);
    ranked.splice(at, 0, id);
    draw({ id, action: "add" }, index);
    announce(t("ballot.added", { name: name(id), n: ranked.indexOf(id) + 1 }));
  }

  function remove(id: string): void {
    const index = ranked.indexOf(id);
    ranked = ranked.filter((r) => r !== id);
    draw({ id, action: "remove" }, index);
    announce(t("ballot.removed", { name: name(id) }));
  }

  function move(id: string, delta: number): void {
    const from = ranked.indexOf(id);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= ranked.length) return;
    ranked.splice(from, 1);
    ranked.splice(to, 0, id);
    draw({ id, action: delta < 0 ? "up" : "down" });
    announce(t("ballot.moved", { name: name(id), n: to + 1 }));
  }

  // Mouse and touchpad: drag from either list, drop on a ranked item (to take its place) or on
  // either list (the end of the ranking, or out of it).
  element.addEventListener("dragstart", (e) => {
    const item = (e.target as HTMLElement).closest<HTMLElement>("li[data-id]");
    if (!item) return;
    dragged = item.dataset.id ?? null;
    e.dataTransfer?.setData("text/plain", dragged ?? "");
    if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
    item.classList.add("dragging");
  });
  element.addEventListener("dragend", () => {
    dragged = null;
    element.querySelectorAll(".dragging, .drop-target").forEach((n) => n.classList.remove("dragging", "drop-target"));
  });
  element.addEventListener("dragover", (e) => {
    if (!dragged) return;
    e.preventDefault();
    element.querySelectorAll(".drop-target").forEach((n) => n.classList.remove("drop-target"));
    (e.target as HTMLElement).closest("li[data-id], ol, ul")?.classList.add("drop-target");
  });
  element.addEventListener("dragleave", (e) => {
    (e.target as HTMLElement).classList?.remove("drop-target");
  });
  element.addEventListener("drop", (e) => {
    e.preventDefault();
    // The dragged node is redrawn away, so its dragend never reaches us: clean up here too.
    element.querySelectorAll(".dragging, .drop-target").forEach((n) => n.classList.remove("dragging", "drop-target"));
    element.classList.remove("drop-target");
    const id = dragged;
    dragged = null;
    if (!id) return;
    const target = e.target as HTMLElement;
    if (target.closest(".unranked")) {
      if (ranked.includes(id)) remove(id);
      return;
    }
    if (!target.closest(".ranked")) return;
    const overItem = target.closest<HTMLElement>("li[data-id]");
    const over = overItem?.dataset.id;
    if (!ranked.includes(id) && ranked.length >= limit) return;
    ranked = ranked.filter((r) => r !== id);
    // On a candidate's upper half the dragged one takes its place; on the lower half, the next.
    let at = over && over !== id ? ranked.indexOf(over) : ranked.length;
    if (overItem && at >= 0 && at < ranked.length) {
      const box = overItem.getBoundingClientRect();
      if (e.clientY > box.top + box.height / 2) at += 1;
    }
    ranked.splice(at < 0 ? ranked.length : at, 0, id);
    draw();
    announce(t("ballot.moved", { name: name(id), n: ranked.indexOf(id) + 1 }));
  });

  draw();
  return { element, order: () => [...ranked] };
}
