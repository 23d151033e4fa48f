// The versions shoal speaks and reports. Here, not in httpapi/, so the CLI can print them without
// loading the daemon (fastify, grpc-js, the X.509 library).

/** The Engine API version shoal advertises (what the docker CLI then uses). */
export const API_VERSION = '1.41';
/** Requests up to this version are accepted. */
export const MAX_API_VERSION = '1.50';
export const MIN_API_VERSION = '1.12';
export const SHOAL_VERSION = '0.1.0';
/**
 * The newest Engine API version shoal's client speaks. It negotiates down to the engine's
 * (`Api-Version` of `/_ping`), since dockerd refuses versions below its minimum (1.44 from
 * moby 29) and above its maximum.
 */
export const CLIENT_MAX_API_VERSION = '1.50';
