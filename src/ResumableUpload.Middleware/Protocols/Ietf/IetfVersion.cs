namespace ResumableUpload.Middleware.Protocols.Ietf;

/// <summary>
/// What differs between the interop versions of draft-ietf-httpbis-resumable-upload that real clients send
/// (<c>Upload-Draft-Interop-Version</c>): 3 (draft-01, iOS 17), 4 (draft-02), 5 (draft-03, iOS 18.0,
/// tus-js-client <c>ietf-draft-03</c>), 6 (draft-04/-05, iOS 18.1+, tus-js-client <c>ietf-draft-05</c>), 7 (draft-06 to
/// -08) and 8 (draft-09 to -11). A request without the header, or with an unknown value, is served with the latest
/// behaviour but never gets a <c>104</c>, as every version requires.
/// </summary>
internal sealed class IetfVersion
{
    public const int Latest = 8;

    private IetfVersion(int number, bool known)
    {
        Number = number;
        IsKnown = known;
    }

    /// <summary>The interop version whose rules apply.</summary>
    public int Number { get; }

    /// <summary>Whether the client named this version (only then may a 104 be sent).</summary>
    public bool IsKnown { get; }

    /// <summary>Version 3 says <c>Upload-Incomplete: ?1</c> where later versions say <c>Upload-Complete: ?0</c>.</summary>
    public bool UsesUploadIncomplete => Number == 3;

    /// <summary>From 6 (draft-04): appends are sent as <c>application/partial-upload</c>.</summary>
    public bool RequiresPartialUploadContentType => Number >= 6;

    /// <summary>From 6: <c>Upload-Limit</c> and the RFC 9457 problem types.</summary>
    public bool HasLimitsAndProblemTypes => Number >= 6;

    /// <summary>The <c>Upload-Limit</c> key of the remaining lifetime: <c>expires</c> in 6, <c>max-age</c> from 7.</summary>
    public string LifetimeKey => Number >= 7 ? "max-age" : "expires";

    /// <summary>
    /// Up to 6, successful appends and creations answer 201 with <c>Upload-Offset</c>; from 7 an incomplete append
    /// answers 204 and a completing request gets the target's own response (here 200).
    /// </summary>
    public int SuccessStatus(bool completed, bool creation)
        => Number <= 6 ? 201 : completed ? 200 : creation ? 201 : 204;

    /// <summary>From 8: an expired upload the server remembers may answer 410.</summary>
    public bool UsesGoneForExpired => Number >= 8;

    public static IetfVersion Parse(string? header)
    {
        if (header is not null && int.TryParse(header.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) && number is >= 3 and <= Latest)
        {
            return new IetfVersion(number, known: true);
        }

        return new IetfVersion(Latest, known: false);
    }
}
