// The archive bench page is not an extension: `wxt/browser` stands in as an empty object (the
// archive only touches it to open a tab, which the bench never does).
export const browser = {};
