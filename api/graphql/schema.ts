// The GraphQL schema: the Offer type (and its enums and nested types) generated from schema/offer.schema.json,
// around it the queries, connections and subscriptions written here.
import { graphqlOfferTypes } from '../offer-schema.ts';

export function graphqlSchema(): string {
  const offer = graphqlOfferTypes();
  return `
"""Any JSON value (offer attributes, values of union type)."""
scalar JSON

${offer.sdl}

enum OfferSort {
  """Newest first (first seen)."""
  NEWEST
  """Most recently changed first."""
  CHANGED
  """Best match first (with search; the default then)."""
  RELEVANCE
}

enum OfferChangeOp { INSERT UPDATE REACTIVATE DEACTIVATE EXPIRE HIDE }

"""Each list matches any of its values; all given fields must match."""
input OfferFilter {
  network: [String!]
  kind: [OfferKind!]
  merchant: [String!]
  country: [String!]
  lang: [String!]
  vertical: [String!]
  minPrice: Float
  maxPrice: Float
  hasCoupon: Boolean
}

type PageInfo {
  hasNextPage: Boolean!
  endCursor: String
}

type OfferEdge {
  cursor: String!
  node: Offer!
  """Relevance (search) or ranking score."""
  score: Float
}

type OfferConnection {
  edges: [OfferEdge!]!
  pageInfo: PageInfo!
}

type SyncRunCounts {
  new: Int
  updated: Int
  unchanged: Int
  deactivated: Int
  expired: Int
  reactivated: Int
  quarantined: Int
  api_calls: Int
  pages: Int
  records: Int
}

type SyncRun {
  id: ID!
  connector: String!
  mode: String!
  status: String!
  complete: Boolean!
  started_at: String!
  finished_at: String
  duration_ms: Float
  counts: SyncRunCounts
}

type SyncRunEdge {
  cursor: String!
  node: SyncRun!
}

type SyncRunConnection {
  edges: [SyncRunEdge!]!
  pageInfo: PageInfo!
}

type NetworkOfferCounts {
  public: Int!
  active: Int!
  inactive: Int!
  expired: Int!
  hidden: Int!
}

type Network {
  id: ID!
  name: String
  status: String
  """ok, stale, failing, syncing, paused, retired or never_synced"""
  health: String!
  paused: Boolean!
  last_run: SyncRun
  last_success_at: String
  offers: NetworkOfferCounts!
}

type OfferChange {
  op: OfferChangeOp!
  """Whether the offer is public after the change."""
  visible: Boolean!
  run_id: String!
  offer: Offer!
}

type Query {
  """Public offers, newest first (or by last change, or by relevance when searching), Relay-style pagination."""
  offers(filter: OfferFilter, search: String, sort: OfferSort, first: Int = 20, after: String, group: Boolean = true): OfferConnection!
  offer(id: ID!): Offer
  """Best offers by ranking score."""
  topOffers(filter: OfferFilter, first: Int = 10): [OfferEdge!]!
  networks: [Network!]!
  syncRuns(connector: String, first: Int = 20, after: String): SyncRunConnection!
}

type Subscription {
  """Offers inserted, updated, reactivated, deactivated, expired or hidden by committed runs."""
  offerChanged(filter: OfferFilter, ops: [OfferChangeOp!]): OfferChange!
  syncRunFinished(connector: String): SyncRun!
}
`;
}
