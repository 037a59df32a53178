B
conv1.biasJP¶Š½HH>gi½¼Í'á»€NA¾Ð¾