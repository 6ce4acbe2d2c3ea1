// fortimock dashboard, replay page: posts the pasted log to the page's own endpoint (with the header only the
// page sends) and puts the result section it answers in place. Nothing here holds the admin token: the
// browser's cookie goes with the request, and the dashboard calls the services with it.
"use strict";

const ACTION_HEADER = { "x-fortimock-dashboard": "1" };

async function replay(arm) {
  const main = document.getElementById("replay");
  const current = document.getElementById("replay-result");
  current.setAttribute("aria-busy", "true");
  let text;
  let status = 0;
  try {
    const response = await fetch(main.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...ACTION_HEADER, "content-type": "application/json" },
      body: JSON.stringify({ log: document.getElementById("log").value, arm }),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    text = "";
  }
  const fresh = new DOMParser().parseFromString(text, "text/html").getElementById("replay-result");
  if (fresh) {
    current.replaceWith(document.importNode(fresh, true));
  } else {
    const failed = document.createElement("section");
    failed.id = "replay-result";
    const line = document.createElement("p");
    line.className = "error";
    line.textContent = status ? `The dashboard answered HTTP ${status}.` : "The dashboard could not be reached.";
    failed.appendChild(line);
    current.replaceWith(failed);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-replay]");
  if (!button) return;
  event.preventDefault();
  replay(button.dataset.replay === "arm");
});
