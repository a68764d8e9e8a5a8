// The context app.js shares with every view, passed to each explicitly: the signed-in
// user's protocol client and model, which conversation is open, and how to ask for a render.
// Views read and set these fields; nothing else is shared between them.

/** ChatContext is the state of the signed-in chat that the views share. */
export class ChatContext {
  /**
   * @param {object} hooks
   * @param {() => void} hooks.render     schedules a render of every view (once per frame)
   * @param {() => void} hooks.renderNow  renders every view at once
   */
  constructor({ render, renderNow }) {
    /** The signed-in user's ParleyClient (protocol.js); null while signed out. */
    this.client = null;
    /** The signed-in user's ChatStore (store.js); null while signed out. */
    this.store = null;
    /** The id of the open conversation; "" when none is open. */
    this.activeId = "";
    /**
     * What the composer is doing besides writing a new message: null, a reply
     * {kind: "reply", conversationId, messageId, quote} or an edit {kind: "edit",
     * conversationId, messageId}. Set by the composer; the message pane marks the message.
     */
    this.composing = null;
    this.render = render;
    this.renderNow = renderNow;
  }
}
