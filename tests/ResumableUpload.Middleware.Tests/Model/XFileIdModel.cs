namespace ResumableUpload.Middleware.Tests.Model;

/// <summary>
/// The reference model of one X-File-Id upload: what the server must hold for an id, written from docs/protocol.md
/// only (no server code). <see cref="Predict"/> is the whole protocol as a pure function.
/// </summary>
internal sealed class ModelEntry
{
    public ModelEntry(string id) => Id = id;

    public string Id { get; }

    /// <summary>Whether the server has a record for the id (status then sends <c>Upload-Complete</c>).</summary>
    public bool Exists { get; set; }

    /// <summary>The exact stored prefix; its length is the count.</summary>
    public byte[] Stored { get; set; } = [];

    public long Count => Stored.Length;

    /// <summary>The declared length (the count once completed).</summary>
    public long? Length { get; set; }

    public bool Completed { get; set; }

    public override string ToString() => $"[exists={Exists} count={Count} length={Length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} completed={Completed}]";
}

/// <summary>What the model expects of one <c>POST upload</c>.</summary>
/// <param name="Status">The expected status code.</param>
/// <param name="Problem">The problem type name for refusals (null for 200 and for the plain-text 409).</param>
/// <param name="Restart">Whether the request starts the upload afresh (old bytes discarded before the body).</param>
/// <param name="BaseLength">The declared length in force while the body is read (after restart / X-File-Size).</param>
/// <param name="BaseCount">The count the body is appended to (0 after a restart).</param>
/// <param name="Accepted">How many body bytes the server stores.</param>
/// <param name="BodyStarts">Whether the server gets as far as reading the body (the request passed every check).</param>
internal sealed record Prediction(int Status, string? Problem, bool Restart, long? BaseLength, long BaseCount, long Accepted, bool BodyStarts)
{
    /// <summary>The count the response reports (for 200, 409 and 413 with a known count).</summary>
    public long ResultCount { get; init; }

    public bool ResultCompleted { get; init; }
}

internal static class XFileIdModel
{
    /// <summary>
    /// The documented rules of <c>POST upload</c> (docs/protocol.md, "Start byte rules", "Completion", "Too large"),
    /// for a body that arrives whole. <paramref name="chunked"/>: no Content-Length.
    /// </summary>
    public static Prediction Predict(ModelEntry e, long start, long? declared, long bodyLength, bool chunked, long maxUploadSize)
    {
        // 1. Headers.
        if (declared is long d0 && start > d0)
        {
            return new Prediction(400, "invalid-header", false, null, e.Count, 0, false) { ResultCount = e.Count, ResultCompleted = e.Completed };
        }

        if (start > maxUploadSize || declared > maxUploadSize)
        {
            return new Prediction(413, "too-large", false, null, e.Count, 0, false) { ResultCount = e.Count, ResultCompleted = e.Completed };
        }

        var unchanged = (int status, string? problem) => new Prediction(status, problem, false, null, e.Count, 0, false) { ResultCount = e.Count, ResultCompleted = e.Completed };

        // 5. Start byte rules.
        var continuesEmpty = e.Exists && e.Count == 0 && !e.Completed && (declared is null || e.Length is null || e.Length == declared);
        var duplicateOfFinished = e.Exists && e.Completed && declared is long sameSize && e.Length == sameSize;
        var restart = start == 0 && !continuesEmpty && !duplicateOfFinished;
        long? length;
        if (restart)
        {
            length = declared;
        }
        else
        {
            if (!e.Exists || e.Count != start)
            {
                return unchanged(409, null);
            }

            length = e.Length;
            if (declared is long d && e.Length != d)
            {
                if (e.Length is not null || e.Completed)
                {
                    return unchanged(409, "length-mismatch");
                }

                length = d;
            }
        }

        var baseCount = restart ? 0 : e.Count;
        var completedBefore = !restart && e.Completed;

        // 6. Content-Length against the room left.
        if (!chunked)
        {
            if (completedBefore)
            {
                if (bodyLength > 0)
                {
                    return unchanged(409, "completed-upload");
                }
            }
            else if (bodyLength > (length ?? maxUploadSize) - baseCount)
            {
                return unchanged(413, "too-large");
            }
        }

        // 7. The body.
        if (completedBefore)
        {
            return bodyLength > 0
                ? new Prediction(409, "completed-upload", false, length, baseCount, 0, true) { ResultCount = baseCount, ResultCompleted = true }
                : new Prediction(200, null, false, length, baseCount, 0, true) { ResultCount = baseCount, ResultCompleted = true };
        }

        var limit = length ?? maxUploadSize;
        var room = limit - baseCount;
        if (bodyLength > room)
        {
            // Chunked: cut at exactly the limit; complete only when the limit is the declared length.
            return new Prediction(413, "too-large", restart, length, baseCount, room, true) { ResultCount = limit, ResultCompleted = length is not null };
        }

        var count = baseCount + bodyLength;
        var completed = length is long l ? count == l : true;
        return new Prediction(200, null, restart, length, baseCount, bodyLength, true) { ResultCount = count, ResultCompleted = completed };
    }

    /// <summary>Applies a prediction whose body arrived (or was cut after <paramref name="accepted"/> bytes).</summary>
    public static void Apply(ModelEntry e, Prediction p, ReadOnlySpan<byte> body, long accepted, bool completed)
    {
        if (!p.BodyStarts)
        {
            return;
        }

        var prefix = p.Restart ? [] : e.Stored;
        var stored = new byte[checked((int)(p.BaseCount + accepted))];
        prefix.AsSpan(0, (int)p.BaseCount).CopyTo(stored);
        body[..(int)accepted].CopyTo(stored.AsSpan((int)p.BaseCount));
        e.Stored = stored;
        e.Exists = true;
        e.Completed = completed;
        e.Length = completed ? stored.Length : p.BaseLength;
    }
}
