using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Http;

namespace ResumableUpload.Middleware.Protocols.XFileId;

/// <summary>
/// Strict parsing of the X-File-Id protocol's headers. Numbers are plain non-negative decimal integers that fit in
/// 64 bits (ASCII digits only: no sign, no exponent, no hex, no spaces, at most 19 digits). Ids are compared
/// byte-exact as decoded by the server; they are untrusted and never used as paths.
/// </summary>
internal static class XFileIdHeaders
{
    public static string ReadFileId(HttpRequest request, int maxLength)
    {
        var values = request.Headers[UploadHeaders.FileId];
        if (StringValues.IsNullOrEmpty(values))
        {
            throw Invalid(UploadHeaders.FileId, "The X-File-Id header is required.");
        }

        if (values.Count != 1)
        {
            throw Invalid(UploadHeaders.FileId, "Send exactly one X-File-Id header.");
        }

        return ValidateFileId(values[0]!, maxLength, UploadHeaders.FileId);
    }

    public static string ValidateFileId(string id, int maxLength, string source)
    {
        if (id.Length > maxLength || Encoding.UTF8.GetByteCount(id) > maxLength)
        {
            throw Invalid(source, $"The upload id is longer than the maximum of {maxLength} bytes.");
        }

        foreach (var c in id)
        {
            if (char.IsControl(c))
            {
                throw Invalid(source, "The upload id must not contain control characters.");
            }
        }

        if (IsReservedId(id))
        {
            throw Invalid(source, "Ids of the form tus:<32 hex> and ietf:<32 hex> name the uploads of the other protocols and are reserved.");
        }

        return id;
    }

    /// <summary>Whether an id has the shape of the engine names of tus or IETF uploads, which X-File-Id requests must not reach.</summary>
    private static bool IsReservedId(string id)
    {
        var colon = id.IndexOf(':', StringComparison.Ordinal);
        return colon is 3 or 4
               && (id.StartsWith("tus:", StringComparison.Ordinal) || id.StartsWith("ietf:", StringComparison.Ordinal))
               && Tus.TusProtocolHandler.IsUploadId(id.AsSpan(colon + 1));
    }

    /// <summary>Parses an optional number header; <see langword="null"/> when absent.</summary>
    public static long? ReadOptionalNumber(HttpRequest request, string header)
    {
        var values = request.Headers[header];
        if (values.Count == 0)
        {
            return null;
        }

        if (values.Count != 1)
        {
            throw Invalid(header, $"Send at most one {header} header.");
        }

        return TryParseNumber(values[0], out var number)
            ? number
            : throw Invalid(header, $"The {header} header must be a non-negative decimal integer of at most 19 digits that fits in 64 bits.");
    }

    public static bool TryParseNumber(string? text, out long value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text) || text.Length > 19)
        {
            return false;
        }

        ulong result = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            result = (result * 10) + (ulong)(c - '0');
        }

        if (result > long.MaxValue)
        {
            return false;
        }

        value = (long)result;
        return true;
    }

    private static UploadException Invalid(string header, string detail)
        => new(UploadError.InvalidHeader, detail) { Header = header };
}
