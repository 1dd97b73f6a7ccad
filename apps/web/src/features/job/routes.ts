/**
 * The job page's address. A static export cannot have a dynamic `[id]` segment, so the id is a
 * query parameter. The organization is the signed-in key's, so it is not in the address.
 */
export function jobHref(jobId: string): string {
  return `/job/?${new URLSearchParams({ id: jobId }).toString()}`;
}
