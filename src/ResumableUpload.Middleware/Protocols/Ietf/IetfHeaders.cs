using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace ResumableUpload.Middleware.Protocols.Ietf;

/// <summary>Header names and strict structured-field parsers of the IETF resumable-upload draft.</summary>
internal static class IetfHeaders
{
    public const string InteropVersion = "Upload-Draft-Interop-Version";
    public const string UploadComplete = "Upload-Complete";
    public const string UploadIncomplete = "Upload-Incomplete";
    public const string UploadOffset = "Upload-Offset";
    public const string UploadLength = "Upload-Length";
    public const string UploadLimit = "Upload-Limit";
    public const string ContentDigest = "Content-Digest";
    public const string ReprDigest = "Repr-Digest";
    public const string PartialUpload = "application/partial-upload";
    public const string ProblemTypeBase = "https://iana.org/assignments/http-problem-types#";

    /// <summary>Whether a request speaks the draft: it names an interop version or carries its completion header.</summary>
    public static bool IsIetfRequest(HttpRequest request)
        => request.Headers.ContainsKey(InteropVersion) || request.Headers.ContainsKey(UploadComplete) || request.Headers.ContainsKey(UploadIncomplete)
           || (request.ContentType is { } type && type.StartsWith(PartialUpload, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Whether this request ends the upload: <c>Upload-Complete: ?1</c> (from version 4), or the absence of
    /// <c>Upload-Incomplete: ?1</c> (version 3). Without the header an append is taken as not the last one.
    /// </summary>
    public static bool ReadComplete(HttpRequest request, IetfVersion version, bool creation)
    {
        if (version.UsesUploadIncomplete)
        {
            var incomplete = ReadBoolean(request, UploadIncomplete);
            return !(incomplete ?? false);
        }

        var complete = ReadBoolean(request, UploadComplete);
        return complete ?? creation;
    }

    /// <summary>A structured-field boolean (<c>?0</c> or <c>?1</c>); <see langword="null"/> when absent.</summary>
    public static bool? ReadBoolean(HttpRequest request, string header)
    {
        var values = request.Headers[header];
        if (values.Count == 0)
        {
            return null;
        }

        return values.Count == 1 && values[0] is "?1" or "?0"
            ? values[0] == "?1"
            : throw Invalid(header, $"{header} is a structured boolean: ?1 or ?0.");
    }

    /// <summary>A non-negative structured-field integer of at most 15 digits (the sf-integer range).</summary>
    public static long? ReadInteger(HttpRequest request, string header)
    {
        var values = request.Headers[header];
        if (values.Count == 0)
        {
            return null;
        }

        if (values.Count == 1 && values[0]!.Length <= 15 && XFileIdHeaders.TryParseNumber(values[0], out var number))
        {
            return number;
        }

        throw Invalid(header, $"{header} must be a non-negative integer of at most 15 digits.");
    }

    public static string Boolean(bool value) => value ? "?1" : "?0";

    /// <summary>
    /// Reads an RFC 9530 <c>Content-Digest</c> dictionary (<c>sha-256=:Base64:</c>) and returns the strongest
    /// algorithm this server checks; unknown algorithms are ignored, as RFC 9530 allows.
    /// </summary>
    public static (string Algorithm, byte[] Digest)? ReadContentDigest(HttpRequest request) => ReadDigest(request, ContentDigest);

    /// <summary>Reads an RFC 9530 digest dictionary header (<c>Content-Digest</c> or <c>Repr-Digest</c>).</summary>
    public static (string Algorithm, byte[] Digest)? ReadDigest(HttpRequest request, string header)
    {
        var value = request.Headers[header].ToString();
        if (value.Length == 0)
        {
            return null;
        }

        (string, byte[])? best = null;
        var bestRank = 0;
        foreach (var member in value.Split(','))
        {
            var equals = member.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw Invalid(header, $"{header} is a dictionary of algorithm=:Base64:.");
            }

            var key = member[..equals].Trim();
            var item = member[(equals + 1)..].Trim();
            var (name, rank) = key switch
            {
                "sha-512" => ("sha512", 2),
                "sha-256" => ("sha256", 1),
                _ => (null, 0),
            };
            if (name is null)
            {
                continue;
            }

            if (item.Length < 2 || item[0] != ':' || item[^1] != ':')
            {
                throw Invalid(header, $"{header} values are byte sequences (:Base64:).");
            }

            byte[] digest;
            try
            {
                digest = Convert.FromBase64String(item[1..^1]);
            }
            catch (FormatException)
            {
                throw Invalid(header, $"A {header} value is not Base64.");
            }

            if (rank > bestRank)
            {
                best = (name, digest);
                bestRank = rank;
            }
        }

        return best;
    }

    public static UploadException Invalid(string header, string detail) => new(UploadError.InvalidHeader, detail) { Header = header };
}
