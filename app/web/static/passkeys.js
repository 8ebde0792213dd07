// Passkeys (WebAuthn) for the forms marked data-passkey="create" or "get": fetch the options from the form's
// data-passkey-options URL, ask the browser's authenticator, and submit the form with its answer. Served from
// our own origin under script-src 'self'; only the sign-in, second-step and account security pages load it.
(() => {
  "use strict";

  const toBuffer = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    let binary = "";
    new Uint8Array(buffer).forEach((byte) => { binary += String.fromCharCode(byte); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const creationOptions = (options) => ({
    ...options,
    challenge: toBuffer(options.challenge),
    user: { ...options.user, id: toBuffer(options.user.id) },
    excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: toBuffer(c.id) })),
  });
  const requestOptions = (options) => ({
    ...options,
    challenge: toBuffer(options.challenge),
    allowCredentials: (options.allowCredentials || []).map((c) => ({ ...c, id: toBuffer(c.id) })),
  });

  const asJSON = (credential) => {
    const answer = credential.response;
    const response = { clientDataJSON: toText(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = toText(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = toText(answer.authenticatorData);
      response.signature = toText(answer.signature);
      response.userHandle = answer.userHandle ? toText(answer.userHandle) : null;
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  };

  const run = async (form) => {
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const answer = await fetch(form.dataset.passkeyOptions, {
      method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
    });
    if (!answer.ok) throw new Error(`options: ${answer.status}`);
    const body = await answer.json();
    const credential = form.dataset.passkey === "create"
      ? await navigator.credentials.create({ publicKey: creationOptions(body.options) })
      : await navigator.credentials.get({ publicKey: requestOptions(body.options) });
    form.querySelector("input[name=credential]").value = JSON.stringify(asJSON(credential));
    form.querySelector("input[name=challenge]").value = body.challenge;
    form.submit();  // a plain form POST: the server answers with a page, as for every other form
  };

  if (!window.PublicKeyCredential) return;  // the forms stay hidden: no passkeys in this browser
  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    const status = form.querySelector("[data-passkey-status]");
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      status.hidden = true;
      run(form).catch(() => {
        status.textContent = form.dataset.passkeyError;
        status.hidden = false;
      });
    });
  });
})();
