/**
 * BOOTSTRAP_API_KEY: the first admin key of an installation, made at start when it does not
 * exist yet. A revoked bootstrap key stays revoked: restarting never brings it back.
 */
import type { Logger } from 'pino';
import { suppliedKeyPrefix } from './api-keys';
import type { AuthService } from './auth.service';

export async function applyBootstrapKey(
  auth: AuthService,
  key: string,
  orgId: string,
  logger: Logger,
): Promise<void> {
  const outcome = await auth.ensureBootstrapKey(key, orgId);
  const prefix = suppliedKeyPrefix(key);
  if (outcome === 'revoked') {
    logger.warn(
      { key_prefix: prefix },
      'BOOTSTRAP_API_KEY has been revoked: it stays revoked. Remove or replace it.',
    );
  } else if (outcome === 'created') {
    logger.info({ key_prefix: prefix, org_id: orgId }, 'BOOTSTRAP_API_KEY: admin key created');
  }
}
