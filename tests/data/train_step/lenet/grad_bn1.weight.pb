B
bn1.weightJn ºü∑Å<§Ωüª9º_0<Sàª