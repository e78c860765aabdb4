-- ListAccessTokens: an identity's tokens, newest first (the console's token list).
CREATE INDEX access_tokens_identity_created ON access_tokens (identity_id, created_at DESC, id);
