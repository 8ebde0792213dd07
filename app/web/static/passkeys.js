// Passkeys (WebAuthn) for the forms marked data-passkey="create" or "get": fetch the options from the form's
// data-passkey-options URL, ask the browser's authenticator, and submit the form with its answer. A "get" form
// marked data-passkey-autofill also offers its passkeys in the username field's autofill list (conditional
// mediation) while the page is open. Served from our own origin under script-src 'self'; only the sign-in,
// second-step and account security pages load it.
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

  // Each ceremony fetches fresh options: a challenge is single-use, so the autofill and the button never share one.
  const options = async (form) => {
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const answer = await fetch(form.dataset.passkeyOptions, {
      method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
    });
    if (!answer.ok) throw new Error(`options: ${answer.status}`);
    return answer.json();
  };
  const send = (form, credential, challenge) => {
    form.querySelector("input[name=credential]").value = JSON.stringify(asJSON(credential));
    form.querySelector("input[name=challenge]").value = challenge;
    form.submit();  // a plain form POST: the server answers with a page, as for every other form
  };

  const run = async (form) => {
    const body = await options(form);
    const credential = form.dataset.passkey === "create"
      ? await navigator.credentials.create({ publicKey: creationOptions(body.options) })
      : await navigator.credentials.get({ publicKey: requestOptions(body.options) });
    send(form, credential, body.challenge);
  };

  // Conditional mediation: the request waits, without any dialog, until the person picks a passkey from the
  // autofill list of a field marked autocomplete="... webauthn". Browsers allow one pending request, so the
  // button aborts it before its own ceremony.
  const autofill = async (form, signal) => {
    const available = PublicKeyCredential.isConditionalMediationAvailable;
    if (!available || !(await available.call(PublicKeyCredential))) return;
    const body = await options(form);
    const credential = await navigator.credentials.get({
      mediation: "conditional", publicKey: requestOptions(body.options), signal,
    });
    if (credential) send(form, credential, body.challenge);
  };

  if (!window.PublicKeyCredential) return;  // the forms stay hidden: no passkeys in this browser
  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    const status = form.querySelector("[data-passkey-status]");
    const pending = "passkeyAutofill" in form.dataset ? new AbortController() : null;
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      status.hidden = true;
      if (pending) pending.abort();
      run(form).catch(() => {
        status.textContent = form.dataset.passkeyError;
        status.hidden = false;
      });
    });
    // A failed or aborted autofill says nothing: the password and the button are still there.
    if (pending) autofill(form, pending.signal).catch(() => {});
  });
})();
