using System.Globalization;
using System.Text;

namespace ResumableUpload.Middleware.Http.Informational;

/// <summary>Validates and serializes an HTTP/1.1 informational response head.</summary>
internal static class InformationalResponseFormat
{
    /// <summary>Throws for status codes that are not a sendable 1xx (100 is Kestrel's own, 101 switches protocols).</summary>
    public static void ValidateStatusCode(int statusCode)
    {
        if (statusCode is < 102 or > 199)
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "An informational response status must be between 102 and 199.");
        }
    }

    /// <summary>
    /// The bytes of <c>HTTP/1.1 {status} {reason}\r\n{name}: {value}\r\n...\r\n</c>, or <see langword="null"/> when the
    /// reason phrase, a header name or a header value is malformed (a CR or LF would split the response).
    /// </summary>
    public static byte[]? TryFormat(int statusCode, string reasonPhrase, IEnumerable<KeyValuePair<string, string>> headers)
    {
        ValidateStatusCode(statusCode);
        ArgumentNullException.ThrowIfNull(reasonPhrase);
        ArgumentNullException.ThrowIfNull(headers);
        if (!IsFieldText(reasonPhrase))
        {
            return null;
        }

        var builder = new StringBuilder(128);
        builder.Append("HTTP/1.1 ").Append(statusCode.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(reasonPhrase).Append("\r\n");
        foreach (var (name, value) in headers)
        {
            if (!IsToken(name) || value is null || !IsFieldText(value))
            {
                return null;
            }

            builder.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        builder.Append("\r\n");
        return Encoding.ASCII.GetBytes(builder.ToString());
    }

    /// <summary>A field name: one or more RFC 9110 tchars.</summary>
    public static bool IsToken(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        foreach (var c in value)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
                or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Visible ASCII, space and tab only: no CR, LF, NUL, other controls or non-ASCII (Kestrel's default too).</summary>
    public static bool IsFieldText(string value)
    {
        foreach (var c in value)
        {
            if (c != '\t' && c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
