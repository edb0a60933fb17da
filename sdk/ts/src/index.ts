// The votemesh SDK: one typed client per public service, over grpc-web, generated from
// proto/ (src/gen, by `npm run generate`). Only this file is written by hand.

import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { ElectionService } from "./gen/votemesh/election/v1/election_pb.js";
import { NotifyService } from "./gen/votemesh/notify/v1/notify_pb.js";
import { ResultService } from "./gen/votemesh/result/v1/result_pb.js";
import { UserService } from "./gen/votemesh/user/v1/user_pb.js";
import { VotingService } from "./gen/votemesh/voting/v1/voting_pb.js";

export * from "./gen/votemesh/election/v1/election_pb.js";
export * from "./gen/votemesh/notify/v1/notify_pb.js";
export * from "./gen/votemesh/result/v1/result_pb.js";
export * from "./gen/votemesh/user/v1/user_pb.js";
export * from "./gen/votemesh/voting/v1/voting_pb.js";
export { ConnectError, Code } from "@connectrpc/connect";

/** How the SDK reaches votemesh. */
export interface VotemeshOptions {
  /** The edge's address, e.g. `https://vote.example.org`; the page's own origin when omitted. */
  baseUrl?: string;
  /** The caller's access token, asked before every call; `undefined` calls anonymously. */
  accessToken?: () => string | undefined;
}

/** One client per public service. */
export interface Votemesh {
  users: Client<typeof UserService>;
  elections: Client<typeof ElectionService>;
  voting: Client<typeof VotingService>;
  results: Client<typeof ResultService>;
  notify: Client<typeof NotifyService>;
}

/** Clients for every public service over one grpc-web transport. */
export function createVotemesh(options: VotemeshOptions = {}): Votemesh {
  const bearer: Interceptor = (next) => async (request) => {
    const token = options.accessToken?.();
    if (token) {
      request.header.set("authorization", `Bearer ${token}`);
    }
    return next(request);
  };
  const transport = createGrpcWebTransport({
    baseUrl: options.baseUrl ?? globalThis.location?.origin ?? "",
    interceptors: [bearer],
  });
  return {
    users: createClient(UserService, transport),
    elections: createClient(ElectionService, transport),
    voting: createClient(VotingService, transport),
    results: createClient(ResultService, transport),
    notify: createClient(NotifyService, transport),
  };
}
