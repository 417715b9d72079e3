/** Stores (webstores), buyer accounts and store memberships: what the API's requirement checks read. */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS, CheckoutError, DEFAULT_STORE_SETTINGS, type StoreSettings } from '../contract';

export interface WebstoreDoc extends Partial<StoreSettings> {
  _id: string;
  name: string;
  updatedAt: Date;
}

/** A store's settings; documents written before a setting existed have its default. */
export function storeSettings(doc: WebstoreDoc | null): StoreSettings {
  return {
    checkoutPolicy: doc?.checkoutPolicy ?? DEFAULT_STORE_SETTINGS.checkoutPolicy,
    pricing: doc?.pricing ?? DEFAULT_STORE_SETTINGS.pricing,
  };
}

export interface AccountDoc {
  _id: string;
  name: string;
  active: boolean;
  updatedAt: Date;
}

export interface MembershipDoc {
  _id: string;
  webstoreId: string;
  accountId: string;
  createdAt: Date;
}

const membershipId = (webstoreId: string, accountId: string) => `${webstoreId}|${accountId}`;

export class Directory {
  readonly webstores: Collection<WebstoreDoc>;
  readonly accounts: Collection<AccountDoc>;
  readonly memberships: Collection<MembershipDoc>;

  constructor(db: Db) {
    this.webstores = db.collection<WebstoreDoc>(COLLECTIONS.webstores);
    this.accounts = db.collection<AccountDoc>(COLLECTIONS.accounts);
    this.memberships = db.collection<MembershipDoc>(COLLECTIONS.memberships);
  }

  async ensureIndexes(): Promise<void> {
    await this.memberships.createIndex({ accountId: 1 }, { name: 'account' });
  }

  /** PUT semantics: a setting left out returns to its default. */
  async upsertStore(id: string, name: string, settings: Partial<StoreSettings> = {}): Promise<{ webstoreId: string; name: string } & StoreSettings> {
    const full = { ...DEFAULT_STORE_SETTINGS, ...settings };
    await this.webstores.updateOne({ _id: id }, { $set: { name, ...full, updatedAt: new Date() } }, { upsert: true });
    return { webstoreId: id, name, ...full };
  }

  async upsertAccount(id: string, name: string, active: boolean): Promise<{ accountId: string; name: string; active: boolean }> {
    await this.accounts.updateOne({ _id: id }, { $set: { name, active, updatedAt: new Date() } }, { upsert: true });
    return { accountId: id, name, active };
  }

  async addMember(webstoreId: string, accountId: string): Promise<{ webstoreId: string; accountId: string }> {
    if (!(await this.webstores.findOne({ _id: webstoreId }))) {
      throw new CheckoutError('NOT_FOUND', `Webstore ${webstoreId} was not found.`, { webstoreId });
    }
    if (!(await this.accounts.findOne({ _id: accountId }))) {
      throw new CheckoutError('NOT_FOUND', `Account ${accountId} was not found.`, { accountId });
    }
    // $setOnInsert keeps the first createdAt: making a member twice is the same as once.
    await this.memberships.updateOne(
      { _id: membershipId(webstoreId, accountId) },
      { $setOnInsert: { webstoreId, accountId, createdAt: new Date() } },
      { upsert: true },
    );
    return { webstoreId, accountId };
  }

  getStore(id: string): Promise<WebstoreDoc | null> {
    return this.webstores.findOne({ _id: id });
  }

  getAccount(id: string): Promise<AccountDoc | null> {
    return this.accounts.findOne({ _id: id });
  }

  async isMember(webstoreId: string, accountId: string): Promise<boolean> {
    return (await this.memberships.countDocuments({ _id: membershipId(webstoreId, accountId) }, { limit: 1 })) > 0;
  }
}
