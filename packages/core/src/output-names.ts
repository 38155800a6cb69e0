// File and folder names shared by the commands that write ranked images (dalle-sample, clip-guide).

/** A folder name from a prompt: lowercase words joined by '-', at most 60 characters. */
export function promptSlug(prompt: string): string {
  const slug = prompt
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'prompt';
}

/** 01.png, 02.png, … (wider when there are 100 or more). */
export function imageFileName(rank: number, count: number): string {
  return `${String(rank).padStart(Math.max(2, String(count).length), '0')}.png`;
}
