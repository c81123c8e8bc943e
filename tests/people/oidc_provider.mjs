// A real OpenID provider for the single sign-on tests: node-oidc-provider (package.json) on a port of
// loopback, issuer http://localhost:<port>. Usage: node oidc_provider.mjs <port> <config.json>, where the
// config names the client ({client_id, client_secret, redirect_uris}) and the accounts (login -> claims).
// Sign-in is the package's development login form: any password for a listed login. Consent is skipped
// for the one (first-party) client. It prints "ready" once listening.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const { client, accounts } = JSON.parse(readFileSync(configPath, 'utf8'));

const provider = new Provider(`http://localhost:${port}`, {
  clients: [{ ...client, grant_types: ['authorization_code'], response_types: ['code'] }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'zoneinfo', 'locale'],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  async loadExistingGrant(ctx) {
    const { session, client: c, params } = ctx.oidc;
    const grant = new ctx.oidc.provider.Grant({ clientId: c.clientId, accountId: session.accountId });
    grant.addOIDCScope(params.scope);
    await grant.save();
    return grant;
  },
  cookies: { keys: ['deskbase-tests-only'] },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
