// Knowledge base on the desk's ticket page: "Insert link in reply" puts a Markdown link to
// the article at the cursor of the reply being written (#composer's body).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-kb-insert]");
  if (!button) return;
  const body = document.querySelector("#composer textarea[name='body']");
  if (!body) return;
  const text = button.dataset.kbInsert;
  const start = body.selectionStart ?? body.value.length;
  const end = body.selectionEnd ?? body.value.length;
  const before = body.value.slice(0, start);
  const spacer = before && !/\s$/.test(before) ? " " : "";
  body.value = before + spacer + text + body.value.slice(end);
  const cursor = start + spacer.length + text.length;
  body.focus();
  body.setSelectionRange(cursor, cursor);
  body.dispatchEvent(new Event("input", { bubbles: true }));
  button.textContent = "Inserted";
});
