// Shared reads of elections and their candidates, and small formatting helpers.

import { ElectionStatus, ResultsVisibility, type Candidate, type Election, type Question } from "@votemesh/sdk";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { api } from "./api";

export function date(ts: Timestamp | undefined): Date | undefined {
  return ts ? timestampDate(ts) : undefined;
}

/** Every election the caller may see, following pages. */
export async function listAllElections(signal?: AbortSignal): Promise<Election[]> {
  const out: Election[] = [];
  let pageToken = "";
  do {
    const r = await (await api()).elections.listElections({ pageSize: 200, pageToken }, { signal });
    out.push(...r.elections);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

export interface Ballot {
  election: Election;
  candidates: Candidate[];
}

/** An election with its candidates in ballot order. */
export async function loadBallot(electionId: string, signal?: AbortSignal): Promise<Ballot> {
  const client = await api();
  const [e, c] = await Promise.all([
    client.elections.getElection({ electionId }, { signal }),
    client.elections.listCandidates({ electionId }, { signal }),
  ]);
  if (!e.election) throw new Error("no election in the response");
  return { election: e.election, candidates: c.candidates };
}

/** A question's candidates in ballot order (an empty question id means the first question). */
export function candidatesOf(ballot: Ballot, question: Question): Candidate[] {
  return ballot.candidates
    .filter((c) => (c.questionId || ballot.election.electionId) === question.questionId)
    .sort((a, b) => a.ballotPosition - b.ballotPosition);
}

/** The question's shown title: the first question's empty title is the election's. */
export function questionTitle(election: Election, question: Question): string {
  return question.title || election.title;
}

export function isLive(election: Election): boolean {
  return election.resultsVisibility === ResultsVisibility.LIVE;
}

export function isOpen(election: Election): boolean {
  return election.status === ElectionStatus.OPEN;
}

/** A map from candidate id to its name, for results. */
export function namesOf(candidates: Candidate[]): Map<string, string> {
  return new Map(candidates.map((c) => [c.candidateId, c.name]));
}
