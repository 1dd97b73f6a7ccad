/**
 * The job page's address. A static export cannot have a dynamic `[id]` segment, so the id is a
 * query parameter; the organization rides along so a copied link opens the same job anywhere.
 */
export function jobHref(orgId: string, jobId: string): string {
  return `/job/?${new URLSearchParams({ id: jobId, org: orgId }).toString()}`;
}
