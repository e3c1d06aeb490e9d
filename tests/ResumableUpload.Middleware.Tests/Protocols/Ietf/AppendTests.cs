using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>Upload append (<c>PATCH</c> on the upload resource), per interop version.</summary>
public sealed class AppendTests
{
    [Fact]
    public async Task V3_Append_Incomplete_Returns201WithOffsetAndUploadIncompleteTrue()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(3, Protocol.RandomBytes(25));

        using var response = await host.Client.PatchAsync(3, url, 25, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("50");
        response.Header("Upload-Incomplete").Should().Be("?1");
        response.Header("Upload-Complete").Should().BeNull();
    }

    [Fact]
    public async Task V3_Append_Completing_Returns201WithOffsetAndNotUploadIncompleteTrue()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(50);
        var url = await host.Client.CreateIncompleteAsync(3, file.AsMemory(0, 25));

        using var response = await host.Client.PatchAsync(3, url, 25, file.AsMemory(25), complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("50");
        response.Header("Upload-Incomplete").Should().NotBe("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task V4_Append_Incomplete_Returns201WithOffsetAndUploadCompleteFalse(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(25));

        using var response = await host.Client.PatchAsync(version, url, 25, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("50");
        response.Header("Upload-Complete").Should().Be("?0");
        response.Header("Upload-Incomplete").Should().BeNull();
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task V4_Append_Completing_Returns201WithOffsetAndUploadCompleteTrue(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(50);
        var url = await host.Client.CreateIncompleteAsync(version, file.AsMemory(0, 25));

        using var response = await host.Client.PatchAsync(version, url, 25, file.AsMemory(25), complete: true);

        ((int)response.StatusCode).Should().BeInRange(200, 299);
        response.Header("Upload-Offset").Should().Be("50");
        response.Header("Upload-Complete").Should().Be("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task V5_Append_WithoutContentType_IsAccepted()
    {
        // tus-js-client ietf-draft-03 (interop 5) sends no Content-Type; application/partial-upload arrived in v6.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(5, ReadOnlyMemory<byte>.Empty);

        using var response = await host.Client.PatchAsync(5, url, 0, Protocol.RandomBytes(10), complete: false, contentType: null);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("10");
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V6_Append_WithoutPartialUploadContentType_Returns415(int version)
    {
        // -04: "The request MUST use the media type application/partial-upload."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));

        using var none = await host.Client.PatchAsync(version, url, 5, Protocol.RandomBytes(5), complete: false, contentType: null);
        using var other = await host.Client.PatchAsync(version, url, 5, Protocol.RandomBytes(5), complete: false, contentType: "application/offset+octet-stream");

        none.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        other.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(5, "nothing was appended");
    }

    [Theory]
    [MemberData(nameof(IetfClient.AllVersions), MemberType = typeof(IetfClient))]
    public async Task AnyVersion_Append_WithoutUploadOffset_Returns400(int version)
    {
        // "The request MUST include the Upload-Offset header field."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));
        using var request = IetfClient.PatchRequest(version, url, 5, Protocol.RandomBytes(5), complete: false);
        request.Headers.Remove("Upload-Offset");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(5);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task V3_Append_OffsetMismatch_Returns409WithUploadOffset(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(25));

        using var response = await host.Client.PatchAsync(version, url, 10, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        response.Header("Upload-Offset").Should().Be("25");
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(25);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V6_Append_OffsetMismatch_Returns409WithMismatchingUploadOffsetProblemAndExpectedProvidedOffsets(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(100), uploadLength: 300);

        using var response = await host.Client.PatchAsync(version, url, 200, Protocol.RandomBytes(100), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        response.Header("Upload-Offset").Should().Be("100", "409 MUST carry the correct Upload-Offset");
        var problem = await response.ProblemAsync();
        problem.GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "mismatching-upload-offset");
        problem.GetProperty("expected-offset").GetInt64().Should().Be(100);
        problem.GetProperty("provided-offset").GetInt64().Should().Be(200);
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(100);
    }

    [Fact]
    public async Task V7_Append_OffsetMismatch_ResponseCarriesUploadCompleteFalse()
    {
        // -06: for a request with Upload-Complete: ?0, "any response, success or failure, MUST carry
        // Upload-Complete: ?0" (relaxed to success responses in -10, interop 8).
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(7, Protocol.RandomBytes(100), uploadLength: 300);

        using var response = await host.Client.PatchAsync(7, url, 200, Protocol.RandomBytes(100), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        // Regression (fixed): ProblemResponses.WriteAsync clears the response headers, so a v7 refusal never carries Upload-Complete: ?0.
        response.Header("Upload-Complete").Should().Be("?0");
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public async Task V6_Append_ToCompletedUpload_Returns400WithCompletedUploadProblem(int version)
    {
        // -04: "MUST NOT modify the upload; answer 400. MAY use the problem type completed-upload."
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(30);
        var url = await host.Client.CreateIncompleteAsync(version, file.AsMemory(0, 10));
        (await host.Client.PatchAsync(version, url, 10, file.AsMemory(10), complete: true)).IsSuccessStatusCode.Should().BeTrue();

        using var response = await host.Client.PatchAsync(version, url, 30, Protocol.RandomBytes(5), complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "completed-upload");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task V8_Append_ToCompletedUploadWithEmptyBody_Returns410()
    {
        // -09+: "empty body → 410 Gone (completed-upload problem)".
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(30);
        var url = await host.Client.CreateIncompleteAsync(8, file.AsMemory(0, 10));
        (await host.Client.PatchAsync(8, url, 10, file.AsMemory(10), complete: true)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var response = await host.Client.PatchAsync(8, url, 30, ReadOnlyMemory<byte>.Empty, complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.Gone);
        (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "completed-upload");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task V8_Append_ToCompletedUploadWithBody_Returns400InconsistentUploadLength()
    {
        // -09+: "non-empty body → treat as inconsistent length".
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(30);
        var url = await host.Client.CreateIncompleteAsync(8, file.AsMemory(0, 10));
        (await host.Client.PatchAsync(8, url, 10, file.AsMemory(10), complete: true)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var response = await host.Client.PatchAsync(8, url, 30, Protocol.RandomBytes(5), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "inconsistent-upload-length");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V7_Append_Incomplete_Returns204WithUploadCompleteFalse(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(25), uploadLength: 100);

        using var response = await host.Client.PatchAsync(version, url, 25, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        response.Header("Upload-Complete").Should().Be("?0");
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(50);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V7_Append_CompletingRequest_Returns200WithUploadCompleteTrue(int version)
    {
        // -06: "?1 → the response from the original target resource (e.g. 200 OK), which MUST carry Upload-Complete: ?1".
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);
        var url = await host.Client.CreateIncompleteAsync(version, file.AsMemory(0, 25), uploadLength: 100);

        using var response = await host.Client.PatchAsync(version, url, 25, file.AsMemory(25), complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Header("Upload-Complete").Should().Be("?1");
        (await response.Content.ReadAsByteArrayAsync()).Should().BeEmpty();
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Append_CompletingRequestDisagreesWithRecordedLength_Returns400(int version)
    {
        // "Upload-Complete: ?1 + Content-Length gives the final size as offset + CL. It must match any recorded size,
        // otherwise 400" (inconsistent-upload-length from v7).
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10), uploadLength: 100);

        using var response = await host.Client.PatchAsync(version, url, 10, Protocol.RandomBytes(20), complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        if (version >= 7)
        {
            (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "inconsistent-upload-length");
        }

        (await host.Client.GetOffsetAsync(version, url)).Should().Be(10);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V6_Append_PastTheKnownLength_Returns400(int version)
    {
        // -05: "If the final size is known, stop appending once the offset reaches it and answer 400"; -08 makes it
        // the inconsistent-length case.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10), uploadLength: 20);

        using var response = await host.Client.PatchAsync(version, url, 10, Protocol.RandomBytes(30), complete: false);

        // Regression (fixed): the engine's TooLarge refusal is not translated by the IETF front: 413 (package problem type) instead of 400.
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        if (version >= 7)
        {
            (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "inconsistent-upload-length");
        }
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V7_Append_CompletingChunkedBodyShorterThanUploadLength_Returns400InconsistentUploadLength(int version)
    {
        // Upload-Complete: ?1 makes offset + body the final size; it "must match any recorded size, otherwise 400"
        // (inconsistent-upload-length). With Content-Length this is checked up front; a chunked body is checked when it ends.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10), uploadLength: 100);
        using var request = IetfClient.PatchRequest(version, url, 10, ReadOnlyMemory<byte>.Empty, complete: true);
        request.Content = new StreamContent(new MemoryStream(Protocol.RandomBytes(20)));
        request.Content.Headers.TryAddWithoutValidation("Content-Type", IetfClient.PartialUpload);
        request.Headers.TransferEncodingChunked = true;

        using var response = await host.Client.SendAsync(request);

        // Regression (fixed): PatchAsync checks the ?1 length only when Content-Length is known; a chunked ?1 body that ends short is
        // taken as an ordinary incomplete append (204, Upload-Complete: ?0), although the client said it was the last.
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.ProblemAsync()).GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "inconsistent-upload-length");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task V5_Append_EmptyCompletingRequest_CompletesTheUpload(int version)
    {
        // -03: "An empty append with ?1 completes the upload."
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(40);
        var url = await host.Client.CreateIncompleteAsync(version, file);

        using var response = await host.Client.PatchAsync(version, url, 40, ReadOnlyMemory<byte>.Empty, complete: true);

        ((int)response.StatusCode).Should().BeInRange(200, 299);
        response.Header("Upload-Complete").Should().Be("?1");
        using var head = await host.Client.HeadAsync(version, url);
        head.Header("Upload-Complete").Should().Be("?1");
        head.Header("Upload-Offset").Should().Be("40");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task AnyVersion_Append_UnknownUpload_Returns404(int version)
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.PatchAsync(version, "/" + new string('b', 32), 0, Protocol.RandomBytes(5), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task V6_Append_ResponseCarriesUploadOffsetForTusJsClient()
    {
        // tus-js-client (ietf-draft-05 sends 6) requires Upload-Offset on every PATCH response, the last included.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(6, ReadOnlyMemory<byte>.Empty, uploadLength: 20);

        using var first = await host.Client.PatchAsync(6, url, 0, Protocol.RandomBytes(10), complete: false);
        using var last = await host.Client.PatchAsync(6, url, 10, Protocol.RandomBytes(10), complete: true);

        first.Header("Upload-Offset").Should().Be("10");
        last.Header("Upload-Offset").Should().Be("20");
    }
}
