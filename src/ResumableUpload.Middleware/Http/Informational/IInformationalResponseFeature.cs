namespace ResumableUpload.Middleware.Http.Informational;

/// <summary>
/// Sends an HTTP/1.1 informational (1xx) response ahead of the final one. Present in a connection's features
/// (and, through Kestrel's fallback to connection features, in <c>HttpContext.Features</c>) only when the listener
/// was configured with <c>UseResumableUploadInformationalResponses()</c>. Use
/// <see cref="InformationalResponseHttpContextExtensions.TrySendInformationalAsync"/> rather than this directly: it
/// adds the per-request checks (HTTP/1.1, response not started).
/// </summary>
internal interface IInformationalResponseFeature
{
    /// <summary>
    /// Writes <c>HTTP/1.1 {statusCode} {reasonPhrase}</c>, the headers and an empty line to the connection and
    /// flushes it, when that is safe; otherwise writes nothing and returns <see langword="false"/>.
    /// </summary>
    /// <param name="statusCode">102 to 199 (100 is Kestrel's own, 101 switches protocols).</param>
    /// <param name="reasonPhrase">The reason phrase (visible ASCII, spaces and tabs; may be empty).</param>
    /// <param name="headers">Header fields: token names, values of visible ASCII, spaces and tabs.</param>
    /// <param name="canSend">
    /// Checked while the connection's output is held, right before writing: return <see langword="false"/> when
    /// the final response has started (its head may already be buffered), so nothing can slip in between.
    /// </param>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <returns>
    /// <see langword="true"/> when the response was written and flushed; <see langword="false"/> when it was not
    /// sent (malformed reason or header, output busy or finished, transport wrapped by a later connection
    /// middleware such as TLS, or <paramref name="canSend"/> said no).
    /// </returns>
    ValueTask<bool> TrySendAsync(
        int statusCode,
        string reasonPhrase,
        IEnumerable<KeyValuePair<string, string>> headers,
        Func<bool>? canSend,
        CancellationToken cancellationToken);
}
