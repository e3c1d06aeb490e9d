namespace ResumableUpload.Client;

/// <summary>
/// An upload failed. <see cref="IsTransient"/> tells whether the client retried it (and gave up after
/// <see cref="ResumableUploadClientOptions.MaxRetryAttempts"/>) or whether the server refused it for good.
/// </summary>
public sealed class ResumableUploadException : Exception
{
    /// <summary>Creates an exception without details.</summary>
    public ResumableUploadException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ResumableUploadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ResumableUploadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal ResumableUploadException(string message, int? statusCode, string? responseBody, bool isTransient, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        ResponseBody = responseBody;
        IsTransient = isTransient;
        RetryAfter = retryAfter;
    }

    /// <summary>The HTTP status code of the response that failed the upload, if there was a response.</summary>
    public int? StatusCode { get; }

    /// <summary>The body of that response (for example a problem-details object), if any.</summary>
    public string? ResponseBody { get; }

    /// <summary>
    /// <see langword="true"/> for failures worth retrying (network errors, stalls, 408, 423, 429, 5xx): the client
    /// retried them; <see langword="false"/> for final refusals (other 4xx), which are never retried.
    /// </summary>
    public bool IsTransient { get; }

    /// <summary>The server's <c>Retry-After</c>, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; }
}
