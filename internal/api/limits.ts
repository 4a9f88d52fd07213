/** Largest request body accepted; larger ones get RESOURCE_EXHAUSTED. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
