// Saving a file the user asked for (backups, site profiles), through a Blob link.

export function download(text: string, fileName: string, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own reference once started; revoke later, not synchronously.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
