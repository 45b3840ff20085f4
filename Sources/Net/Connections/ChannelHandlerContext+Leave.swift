import NIOCore

extension ChannelHandlerContext {
    /// Passes `data` on, then takes this context's handler out of the pipeline: the last part it
    /// sees. (The pipeline is taken first: what `data` sets off may change the pipeline.)
    func fireChannelReadAndLeave(_ data: NIOAny) {
        let pipeline = pipeline.syncOperations
        fireChannelRead(data)
        pipeline.removeHandler(context: self, promise: nil)
    }
}
